"""ConvIR's building blocks, faithful to the c-yn/ConvIR repository.

Attribute names are upstream's, so that published state dicts load with ``strict=True``
(``Encoder.0.layers.3.main.1.dynas.0.square_att.conv.weight`` ...). The forward passes
keep upstream's formulation (``F.unfold`` dynamic filters, adaptive pools) because this
is the reference the export-friendly rewrite in ``rewrite.py`` is tested against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicConv(nn.Module):
    """Conv (or transposed conv) + optional GELU, as ``main`` so the keys read ``main.0``."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        stride: int,
        relu: bool = True,
        transpose: bool = False,
    ) -> None:
        super().__init__()
        if transpose:
            conv: nn.Module = nn.ConvTranspose2d(
                in_channel, out_channel, kernel_size, stride=stride, padding=kernel_size // 2 - 1
            )
        else:
            conv = nn.Conv2d(
                in_channel, out_channel, kernel_size, stride=stride, padding=kernel_size // 2
            )
        layers = [conv, nn.GELU()] if relu else [conv]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def _taps_per_group(taps: torch.Tensor, num_taps: int) -> torch.Tensor:
    """(N, groups * taps, 1, 1) -> (N, groups, 1, taps, 1), upstream's layout."""
    return taps.reshape(taps.shape[0], taps.shape[1] // num_taps, num_taps, 1).unsqueeze(2)


def _unfold_filter(
    padded: torch.Tensor,
    shape: torch.Size,
    taps: torch.Tensor,
    kernel: int | tuple[int, int],
    dilation: int,
) -> torch.Tensor:
    """Upstream's dynamic filtering: im2col of the padded input, weighted by the taps of
    each channel group and summed over the kernel window."""
    n, c, h, w = shape
    groups, num_taps = taps.shape[1], taps.shape[3]
    patches = F.unfold(padded, kernel_size=kernel, dilation=dilation)
    patches = patches.reshape(n, groups, c // groups, num_taps, h * w)
    return torch.sum(patches * taps, dim=3).reshape(n, c, h, w)


def _mix(module: nn.Module, low: torch.Tensor, x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Upstream's blend of the filtered (low) and identity (high) parts."""
    out_low = low * (module.inside_all + 1.0) - module.inside_all * mean
    out_low = out_low * module.lamb_l[None, :, None, None]
    return out_low + x * (module.lamb_h[None, :, None, None] + 1.0)


class DynamicFilter(nn.Module):
    """Upstream ``dynamic_filter``: a k x k dilated filter whose taps are predicted per
    image (global pool -> 1x1 conv -> BatchNorm -> tanh), shared by each channel group."""

    def __init__(self, inchannels: int, kernel_size: int = 3, dilation: int = 1, group: int = 8):
        super().__init__()
        self.kernel_size = kernel_size
        self.group = group
        self.dilation = dilation
        self.conv = nn.Conv2d(inchannels, group * kernel_size**2, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(group * kernel_size**2)
        self.act = nn.Tanh()
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
        self.lamb_l = nn.Parameter(torch.zeros(inchannels))
        self.lamb_h = nn.Parameter(torch.zeros(inchannels))
        self.pad = nn.ReflectionPad2d(dilation * (kernel_size - 1) // 2)
        self.ap = nn.AdaptiveAvgPool2d((1, 1))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.inside_all = nn.Parameter(torch.zeros(inchannels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = self.act(_taps_per_group(self.bn(self.conv(self.ap(x))), self.kernel_size**2))
        low = _unfold_filter(self.pad(x), x.shape, taps, self.kernel_size, self.dilation)
        return _mix(self, low, x, self.gap(x))


class StripAttention(nn.Module):
    """Upstream ``spatial_strip_att``: a dynamic 1 x k (``horizontal``) or k x 1 filter
    with per-image taps, mixed with the mean along the same axis."""

    def __init__(
        self, dim: int, kernel: int = 3, dilation: int = 1, group: int = 2, horizontal: bool = True
    ) -> None:
        super().__init__()
        self.k = kernel
        self.dilation = dilation
        self.group = group
        self.horizontal = horizontal
        pad = dilation * (kernel - 1) // 2
        self.kernel = (1, kernel) if horizontal else (kernel, 1)
        self.pad = nn.ReflectionPad2d((pad, pad, 0, 0) if horizontal else (0, 0, pad, pad))
        self.conv = nn.Conv2d(dim, group * kernel, kernel_size=1, bias=False)
        self.ap = nn.AdaptiveAvgPool2d((1, 1))
        self.filter_act = nn.Tanh()
        self.inside_all = nn.Parameter(torch.zeros(dim, 1, 1))
        self.lamb_l = nn.Parameter(torch.zeros(dim))
        self.lamb_h = nn.Parameter(torch.zeros(dim))
        self.gap = nn.AdaptiveAvgPool2d((None, 1) if horizontal else (1, None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = self.filter_act(_taps_per_group(self.conv(self.ap(x)), self.k))
        low = _unfold_filter(self.pad(x), x.shape, taps, self.kernel, self.dilation)
        return _mix(self, low, x, self.gap(x))


class CubicAttention(nn.Module):
    """Upstream ``cubic_attention``: a horizontal then a vertical strip attention."""

    def __init__(self, dim: int, group: int, dilation: int, kernel: int) -> None:
        super().__init__()
        self.H_spatial_att = StripAttention(dim, kernel, dilation, group, horizontal=True)
        self.W_spatial_att = StripAttention(dim, kernel, dilation, group, horizontal=False)
        self.gamma = nn.Parameter(torch.zeros(dim, 1, 1))
        self.beta = nn.Parameter(torch.ones(dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.W_spatial_att(self.H_spatial_att(x))
        return self.gamma * out + x * self.beta


class MultiShapeKernel(nn.Module):
    def __init__(self, dim: int, kernel_size: int = 3, dilation: int = 1, group: int = 8) -> None:
        super().__init__()
        self.square_att = DynamicFilter(dim, kernel_size, dilation, group)
        self.strip_att = CubicAttention(dim, group, dilation, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.strip_att(x) + self.square_att(x)


class DeepPoolLayer(nn.Module):
    """Multi-scale branch of the last residual block of each stage: pools of 8, 4, 2,
    each through a dynamic-filter kernel, coarse to fine, added back at full size."""

    pools_sizes = (8, 4, 2)

    def __init__(self, k: int, k_out: int, dilations: tuple[int, int, int]) -> None:
        super().__init__()
        self.dilations = tuple(dilations)
        self.pools = nn.ModuleList(nn.AvgPool2d(kernel_size=p, stride=p) for p in self.pools_sizes)
        self.convs = nn.ModuleList(nn.Conv2d(k, k, 3, 1, 1, bias=False) for _ in self.pools_sizes)
        self.dynas = nn.ModuleList(
            MultiShapeKernel(dim=k, kernel_size=3, dilation=d) for d in self.dilations
        )
        self.relu = nn.GELU()
        self.conv_sum = nn.Conv2d(k, k_out, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        out = x
        y_up = None
        for i in range(len(self.pools_sizes)):
            pooled = self.pools[i](x)
            y = self.dynas[i](self.convs[i](pooled if y_up is None else pooled + y_up))
            out = out + F.interpolate(y, size, mode="bilinear", align_corners=True)
            if i != len(self.pools_sizes) - 1:
                y_up = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)
        return self.conv_sum(self.relu(out))


class ResBlock(nn.Module):
    def __init__(
        self, channel: int, dilations: tuple[int, int, int] | None = None
    ) -> None:
        super().__init__()
        middle = DeepPoolLayer(channel, channel, dilations) if dilations else nn.Identity()
        self.main = nn.Sequential(
            BasicConv(channel, channel, kernel_size=3, stride=1, relu=True),
            middle,
            BasicConv(channel, channel, kernel_size=3, stride=1, relu=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + x


class ResStage(nn.Module):
    """Upstream ``EBlock``/``DBlock`` (identical): ``num_res`` residual blocks, the last
    one carrying the DeepPoolLayer."""

    def __init__(self, channel: int, num_res: int, dilations: tuple[int, int, int]) -> None:
        super().__init__()
        blocks = [ResBlock(channel) for _ in range(num_res - 1)]
        blocks.append(ResBlock(channel, dilations))
        self.layers = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SCM(nn.Module):
    """Shallow convolutional module: features from the downscaled input image."""

    def __init__(self, out_plane: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            BasicConv(3, out_plane // 4, kernel_size=3, stride=1, relu=True),
            BasicConv(out_plane // 4, out_plane // 2, kernel_size=1, stride=1, relu=True),
            BasicConv(out_plane // 2, out_plane // 2, kernel_size=3, stride=1, relu=True),
            BasicConv(out_plane // 2, out_plane, kernel_size=1, stride=1, relu=False),
            nn.InstanceNorm2d(out_plane, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class FAM(nn.Module):
    """Feature attention module: merges encoder features with SCM features."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.merge = BasicConv(channel * 2, channel, kernel_size=3, stride=1, relu=False)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.merge(torch.cat([x1, x2], dim=1))
