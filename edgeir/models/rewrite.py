"""The export-friendly ConvIR: the same full-scale output with ops every target accepts.

``exportable(model)`` mirrors the faithful module tree under the same attribute names and
shares its parameters (no copies: one checkpoint serves both, and loading new weights into
the faithful model updates the rewrite). Only the modules whose upstream forward does not
export are replaced:

- the dynamic filters (``F.unfold`` + reshape with ``x.shape`` arithmetic) become a sum of
  shifted slices of the reflect-padded input, each slice weighted by per-image,
  per-channel taps. Slices are written with constant starts and negative ends, so no size
  is ever read from a tensor. The taps come from one 1x1 conv whose rows are upstream's,
  reordered tap-major and with the BatchNorm folded in; the scalar gains
  (``lamb_l``, ``inside_all``, ``lamb_h``) are folded into the taps, and the centre tap
  into the identity term. We kept the slice sum over a per-image depthwise conv because
  the latter needs the batch folded into channels, which is a reshape by runtime sizes
  (``Shape``/``Gather`` ops that Core ML cannot convert);
- ``AdaptiveAvgPool2d`` becomes ``mean`` over the pooled axes (global or one axis);
- ``F.interpolate(size=x.shape)`` becomes ``scale_factor`` (exact: sizes divide);
- the nearest x0.5 input pyramid becomes a stride-2 slice (equal for even sides), or,
  for converters that cannot take a strided slice (pnnx for ncnn), a 1x1 average pool of
  stride 2 (``pooled_pyramid``: the same pixels);
- the two auxiliary outputs (1/4, 1/2 scale) are not computed.

The rewrite always computes inference semantics (BatchNorm running statistics).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from edgeir.models.convir import ConvIR
from edgeir.models.layers import DeepPoolLayer, DynamicFilter, StripAttention
from edgeir.models.size import check_input


def _taps_order(channels: int, group: int, taps: int) -> torch.Tensor:
    """Row index that turns upstream's (group, tap) conv rows into (tap, channel) rows:
    row ``t * channels + c`` reads upstream row ``(c // (channels // group)) * taps + t``."""
    per_group = channels // group
    channel = torch.arange(channels)
    return torch.cat([(channel // per_group) * taps + t for t in range(taps)])


def _shifted_sum(
    padded: torch.Tensor,
    taps: list[torch.Tensor],
    offsets: list[tuple[int, int]],
    pad: tuple[int, int],
) -> torch.Tensor:
    """sum_k taps[k] * padded shifted by offsets[k]; ``pad`` is the (rows, cols) padding.

    Ends are negative constants (or open), so the traced graph has no size arithmetic."""
    total = None
    for tap, (dy, dx) in zip(taps, offsets):
        end_y = dy - 2 * pad[0]
        end_x = dx - 2 * pad[1]
        window = padded[:, :, dy : end_y if end_y else None, dx : end_x if end_x else None]
        term = window * tap
        total = term if total is None else total + term
    return total


class _DynamicTaps(nn.Module):
    """Shared machinery of the square and strip dynamic filters."""

    def _split_taps(self, taps: torch.Tensor, gain: torch.Tensor) -> list[torch.Tensor]:
        c = self.channels
        return [taps[:, t * c : (t + 1) * c] * gain for t in range(self.num_taps)]

    def _combine(
        self, x: torch.Tensor, padded: torch.Tensor, taps: torch.Tensor, mean: torch.Tensor
    ) -> torch.Tensor:
        # upstream: (sum_k tap_k * shift_k(x) * (1 + inside) - inside * mean) * lamb_l
        #           + x * (1 + lamb_h)
        lamb_l = self.lamb_l[:, None, None]
        gain = lamb_l * (self.inside_all + 1.0)
        scaled = self._split_taps(taps, gain)
        centre = self.num_taps // 2
        identity_gain = scaled[centre] + (self.lamb_h[:, None, None] + 1.0)
        others = [t for i, t in enumerate(scaled) if i != centre]
        offsets = [o for i, o in enumerate(self.offsets) if i != centre]
        shifted = _shifted_sum(padded, others, offsets, self.pad_rc)
        return shifted + x * identity_gain - mean * (self.inside_all * lamb_l)


class ExportableDynamicFilter(_DynamicTaps):
    """``DynamicFilter`` as a slice sum; k x k taps per channel group."""

    def __init__(self, src: DynamicFilter) -> None:
        super().__init__()
        self.conv, self.bn, self.pad = src.conv, src.bn, src.pad
        self.lamb_l, self.lamb_h, self.inside_all = src.lamb_l, src.lamb_h, src.inside_all
        k, d = src.kernel_size, src.dilation
        self.channels = src.conv.in_channels
        self.num_taps = k * k
        p = d * (k - 1) // 2
        self.pad_rc = (p, p)
        self.offsets = [(i * d, j * d) for i in range(k) for j in range(k)]
        self.register_buffer(
            "order", _taps_order(self.channels, src.group, self.num_taps), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        weight = (self.conv.weight * scale[:, None, None, None])[self.order]
        bias = (bn.bias - bn.running_mean * scale)[self.order]
        mean = x.mean(dim=(2, 3), keepdim=True)
        taps = torch.tanh(F.conv2d(mean, weight, bias))
        return self._combine(x, self.pad(x), taps, mean)


class ExportableStripAttention(_DynamicTaps):
    """``StripAttention`` as a slice sum along one axis; the axis mean replaces
    ``AdaptiveAvgPool2d((None, 1))`` / ``((1, None))``."""

    def __init__(self, src: StripAttention) -> None:
        super().__init__()
        self.conv, self.pad = src.conv, src.pad
        self.lamb_l, self.lamb_h, self.inside_all = src.lamb_l, src.lamb_h, src.inside_all
        k, d = src.k, src.dilation
        self.channels = src.conv.in_channels
        self.num_taps = k
        p = d * (k - 1) // 2
        self.horizontal = src.horizontal
        self.pad_rc = (0, p) if src.horizontal else (p, 0)
        self.offsets = [(0, t * d) if src.horizontal else (t * d, 0) for t in range(k)]
        self.register_buffer(
            "order", _taps_order(self.channels, src.group, self.num_taps), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.conv.weight[self.order]
        taps = torch.tanh(F.conv2d(x.mean(dim=(2, 3), keepdim=True), weight))
        axis_mean = x.mean(dim=3 if self.horizontal else 2, keepdim=True)
        return self._combine(x, self.pad(x), taps, axis_mean)


class ExportableDeepPoolLayer(nn.Module):
    """``DeepPoolLayer`` with upsampling by scale factor instead of by ``x.shape``."""

    def __init__(self, src: DeepPoolLayer) -> None:
        super().__init__()
        self.pools_sizes = src.pools_sizes
        self.pools, self.convs = src.pools, src.convs
        self.dynas = _mirror(src.dynas)
        self.relu, self.conv_sum = src.relu, src.conv_sum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        y_up = None
        for i, size in enumerate(self.pools_sizes):
            pooled = self.pools[i](x)
            y = self.dynas[i](self.convs[i](pooled if y_up is None else pooled + y_up))
            out = out + F.interpolate(y, scale_factor=size, mode="bilinear", align_corners=True)
            if i != len(self.pools_sizes) - 1:
                y_up = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)
        return self.conv_sum(self.relu(out))


def _graph_capture(x: torch.Tensor) -> bool:
    """True while an exporter or a quantizer captures the graph: sizes are then symbolic
    (FX proxies among them), and the size rule is checked on real inputs instead."""
    return (
        isinstance(x, torch.fx.Proxy)
        or torch.jit.is_tracing()
        or torch.jit.is_scripting()
        or torch.onnx.is_in_onnx_export()
        or torch.compiler.is_compiling()
    )


class ExportableConvIR(nn.Module):
    """Full-scale output only; input pyramid by strided slicing."""

    pool_pyramid = False
    """Halve the input with a 1x1 stride-2 average pool instead of a stride-2 slice."""

    def __init__(self, src: ConvIR) -> None:
        super().__init__()
        self.variant, self.task, self.dilations = src.variant, src.task, src.dilations
        self.label = f"{src.label}, export rewrite"
        for name in ("Encoder", "feat_extract", "Decoder", "Convs", "FAM1", "SCM1", "FAM2", "SCM2"):
            setattr(self, name, _mirror(getattr(src, name)))
        self.training = False

    def train(self, mode: bool = True) -> ExportableConvIR:
        """Records the flag without touching the children: they are shared with the
        faithful model, whose mode belongs to its owner (exporters toggle modes and
        restore them), and the rewrite computes the same thing in either mode."""
        self.training = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _graph_capture(x):
            check_input(tuple(x.shape), self.dilations, self.label)
        x_2 = self._half(x)
        x_4 = self._half(x_2)
        z2 = self.SCM2(x_2)
        z4 = self.SCM1(x_4)

        res1 = self.Encoder[0](self.feat_extract[0](x))
        res2 = self.Encoder[1](self.FAM2(self.feat_extract[1](res1), z2))
        z = self.Encoder[2](self.FAM1(self.feat_extract[2](res2), z4))

        z = self.feat_extract[3](self.Decoder[0](z))
        z = self.Decoder[1](self.Convs[0](torch.cat([z, res2], dim=1)))
        z = self.feat_extract[4](z)
        z = self.Decoder[2](self.Convs[1](torch.cat([z, res1], dim=1)))
        return self.feat_extract[5](z) + x


    def _half(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool_pyramid:
            return F.avg_pool2d(x, kernel_size=1, stride=2)
        return x[:, :, ::2, ::2]


def pooled_pyramid(rewrite: ExportableConvIR) -> ExportableConvIR:
    """A twin of ``rewrite`` (same modules and parameters) whose input pyramid is pooled."""
    twin = copy.copy(rewrite)
    twin.pool_pyramid = True
    return twin


_REWRITES: dict[type, type] = {
    ConvIR: ExportableConvIR,
    DeepPoolLayer: ExportableDeepPoolLayer,
    DynamicFilter: ExportableDynamicFilter,
    StripAttention: ExportableStripAttention,
}


def _mirror(module: nn.Module) -> nn.Module:
    """The module itself when nothing under it needs rewriting; a rewrite class for the
    modules in ``_REWRITES``; otherwise a shallow clone (same class, same parameters)
    whose children are mirrored."""
    rewrite = _REWRITES.get(type(module))
    if rewrite is not None:
        return rewrite(module)
    if not any(type(m) in _REWRITES for m in module.modules()):
        return module
    clone = copy.copy(module)
    clone._modules = {name: _mirror(child) for name, child in module._modules.items()}
    clone._parameters = dict(module._parameters)
    clone._buffers = dict(module._buffers)
    return clone


def exportable(model: ConvIR) -> ExportableConvIR:
    """The export-friendly twin of ``model``: same parameters, full-scale output only."""
    if not isinstance(model, ConvIR):
        raise TypeError(f"exportable() takes an edgeir ConvIR, got {type(model).__name__}")
    return ExportableConvIR(model)
