"""The ConvIR network, faithful to c-yn/ConvIR (module names, numerics, three outputs)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgeir.models.layers import FAM, SCM, BasicConv, ResStage
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, get_task, get_variant
from edgeir.models.size import check_input

BASE_CHANNEL = 32


class ConvIR(nn.Module):
    """ConvIR of one variant (residual blocks per stage) and task preset (dilations).

    ``forward`` returns ``[1/4 scale, 1/2 scale, full scale]`` like upstream, and checks
    the input size first so that an illegal size gives a clear ``EdgeIRError`` instead of
    PyTorch's reflection-pad error deep inside.
    """

    def __init__(self, variant: str = DEFAULT_VARIANT, task: str = DEFAULT_TASK) -> None:
        super().__init__()
        c = BASE_CHANNEL
        self.variant = get_variant(variant)
        self.task = get_task(task)
        self.dilations = self.task.dilations
        num_res = self.variant.num_res
        self.Encoder = nn.ModuleList(
            ResStage(ch, num_res, self.dilations) for ch in (c, c * 2, c * 4)
        )
        self.feat_extract = nn.ModuleList(
            [
                BasicConv(3, c, kernel_size=3, relu=True, stride=1),
                BasicConv(c, c * 2, kernel_size=3, relu=True, stride=2),
                BasicConv(c * 2, c * 4, kernel_size=3, relu=True, stride=2),
                BasicConv(c * 4, c * 2, kernel_size=4, relu=True, stride=2, transpose=True),
                BasicConv(c * 2, c, kernel_size=4, relu=True, stride=2, transpose=True),
                BasicConv(c, 3, kernel_size=3, relu=False, stride=1),
            ]
        )
        self.Decoder = nn.ModuleList(
            ResStage(ch, num_res, self.dilations) for ch in (c * 4, c * 2, c)
        )
        self.Convs = nn.ModuleList(
            [
                BasicConv(c * 4, c * 2, kernel_size=1, relu=True, stride=1),
                BasicConv(c * 2, c, kernel_size=1, relu=True, stride=1),
            ]
        )
        self.ConvsOut = nn.ModuleList(
            [
                BasicConv(c * 4, 3, kernel_size=3, relu=False, stride=1),
                BasicConv(c * 2, 3, kernel_size=3, relu=False, stride=1),
            ]
        )
        self.FAM1 = FAM(c * 4)
        self.SCM1 = SCM(c * 4)
        self.FAM2 = FAM(c * 2)
        self.SCM2 = SCM(c * 2)

    @property
    def label(self) -> str:
        return f"ConvIR-{self.variant.name.upper()} ({self.task.name})"

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_input(tuple(x.shape), self.dilations, self.label)
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x_2 = F.interpolate(x, scale_factor=0.5)
        x_4 = F.interpolate(x_2, scale_factor=0.5)
        z2 = self.SCM2(x_2)
        z4 = self.SCM1(x_4)

        x_ = self.feat_extract[0](x)
        res1 = self.Encoder[0](x_)
        z = self.FAM2(self.feat_extract[1](res1), z2)
        res2 = self.Encoder[1](z)
        z = self.FAM1(self.feat_extract[2](res2), z4)
        z = self.Encoder[2](z)

        z = self.Decoder[0](z)
        out_quarter = self.ConvsOut[0](z) + x_4
        z = self.feat_extract[3](z)

        z = self.Convs[0](torch.cat([z, res2], dim=1))
        z = self.Decoder[1](z)
        out_half = self.ConvsOut[1](z) + x_2
        z = self.feat_extract[4](z)

        z = self.Convs[1](torch.cat([z, res1], dim=1))
        z = self.Decoder[2](z)
        out = self.feat_extract[5](z) + x
        return [out_quarter, out_half, out]
