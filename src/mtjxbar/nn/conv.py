"""A 2-D convolution whose kernel is binary MTJs in one crossbar (im2col on the array).

The kernel ``(out_channels, in_channels, kh, kw)`` is one matrix of ``in_channels * kh * kw`` rows (the
im2col inputs, in ``F.unfold``'s order: channel, then kernel row, then kernel column) and ``out_channels``
outputs, held by a crossbar layer built exactly as a fully connected one (:class:`~.linear.MTJLinear`, or a
:class:`~.transfer_linear.TransferLinear` where ``hardware.transfer`` has a counter): same mapping, DAC,
ADC, reference column, pulse encoder and state. The convolution owns that layer (:attr:`MTJConv2d.tile`)
and adds only the periphery's streaming: every output position is one read of the array.

Forward: ``F.unfold`` -> one read per output position (all positions of all samples as one batch of rows)
-> ``(N, out_channels, H', W')``; on an ideal array ``gain * F.conv2d(x, K) / input_range`` with ``K`` the
logical kernel (:meth:`MTJConv2d.kernel`). Backward (the chip's error path): each position's output error
drives the columns in a transposed read, and the row errors are added back onto the input pixels they
came from (``F.fold``). The update: one rank-1 write per output position, ``(im2col input, output error)``
of that position, sample by sample and in raster order within a sample (:meth:`MTJConv2d.record`; the
optimizer streams them as the periphery would, :class:`mtjxbar.optim.InSituSGD`, through
:meth:`MTJConv2d.plan_stream` / :meth:`MTJConv2d.write_stream` where the tile takes a stream). With a buffer and
counter, the transfers run after each sample, i.e. after all its positions (the buffer integrates them).

Only ``groups = 1`` and zero padding (the chip's rows see zero volts there).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..crossbar import OuterPlans, StreamResult, UpdatePlan, WriteResult
from ..crossbar.plan import OuterPlan
from .autograd import CrossbarRead, InSituLayer
from .config import HardwareConfig
from .transfer_linear import make_layer

__all__ = ["MTJConv2d"]


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} = {value!r}: must be an int or a pair of ints")
    return pair


class MTJConv2d(InSituLayer):
    """``Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation)`` on one crossbar of
    ``in_channels * kh * kw`` rows (module docstring). ``bias``: a float bias per output channel added
    digitally after the ADC (trained by the float rule). ``groups`` other than 1 is refused."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, hardware: HardwareConfig, gain: float,
                 *, stride=1, padding=0, dilation=1, groups: int = 1, bias: bool = False,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if groups != 1:
            raise ValueError(f"groups = {groups!r}: MTJConv2d supports groups = 1 only (one crossbar per layer)")
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channels {in_channels} -> {out_channels}: must be >= 1")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation = (_pair(stride, "stride"), _pair(padding, "padding"),
                                                    _pair(dilation, "dilation"))
        for name, pair, low in (("kernel_size", self.kernel_size, 1), ("stride", self.stride, 1),
                                ("padding", self.padding, 0), ("dilation", self.dilation, 1)):
            if min(pair) < low:
                raise ValueError(f"{name} = {pair}: every entry must be >= {low}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.in_features = in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.out_features = out_channels
        self.hardware = hardware
        self.tile = make_layer(self.in_features, out_channels, hardware, gain, device=device, dtype=dtype)
        self.tile.handle.requires_grad_(False)  # trained as part of this layer, never on its own
        self.init_in_situ(out_channels, bias, device)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, gain={self.gain:g}, "
                f"bias={self.bias is not None}")

    # --------------------------------------------------------------------------- the crossbar layer's parts
    @property
    def gain(self) -> float:
        return self.tile.gain

    @property
    def crossbar(self):
        """The array the per-position writes go to."""
        return self.tile.crossbar

    @property
    def mapping(self):
        return self.tile.mapping

    @property
    def encoder(self):
        return self.tile.encoder

    @property
    def transfer_after(self):
        """The tile's scheduled transfers (a buffer-and-counter tile), else None."""
        return getattr(self.tile, "transfer_after", None)

    def arrays(self) -> dict[str, object]:
        """Every crossbar of the layer by name (the tile's)."""
        return self.tile.arrays()

    def randomize(self, generator: torch.Generator) -> None:
        """Random initial states, as the tile's :meth:`~.linear.MTJLinear.randomize`."""
        self.tile.randomize(generator)

    def kernel(self) -> torch.Tensor:
        """Logical kernel in [-1, 1], shape (out_channels, in_channels, kh, kw) (what an ideal array reads)."""
        return self.tile.weights().T.reshape(self.out_channels, self.in_channels, *self.kernel_size)

    def weights(self) -> torch.Tensor:
        """Logical weights as the array holds them, (in_channels * kh * kw, out_channels)."""
        return self.tile.weights()

    def program(self, kernel: torch.Tensor) -> None:
        """Set the states to the nearest representable logical ``kernel`` (out_channels, in_channels, kh, kw)."""
        want = (self.out_channels, self.in_channels, *self.kernel_size)
        if tuple(kernel.shape) != want:
            raise ValueError(f"kernel of shape {tuple(kernel.shape)}: expected {want}")
        self.tile.program(kernel.reshape(self.out_channels, -1).T.contiguous())  # the arrays keep what they get

    # --------------------------------------------------------------------------------------- geometry
    def columns(self, x: torch.Tensor) -> torch.Tensor:
        """im2col of images ``x`` (N, C, H, W): (N, positions, in_channels * kh * kw), positions in raster
        order."""
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride).transpose(1, 2)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        out = []
        for size, k, s, p, d in zip((height, width), self.kernel_size, self.stride, self.padding, self.dilation,
                                    strict=True):
            out.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
        if min(out) < 1:
            raise ValueError(f"input {height}x{width} is smaller than the kernel {self.kernel_size} "
                             f"(padding {self.padding}, dilation {self.dilation})")
        return out[0], out[1]

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"input of shape {tuple(x.shape)}: expected (N, {self.in_channels}, H, W)")
        return x

    # --------------------------------------------------------------------------------------- compute
    def read(self, x: torch.Tensor) -> torch.Tensor:
        """The forward read of images ``x`` (N, C, H, W): every output position a read of the array between
        DAC and ADC (no bias), (N, out_channels, H', W')."""
        x = self._images(x)
        h, w = self.output_size(x.shape[2], x.shape[3])
        compiled = getattr(self.tile, "conv_read", None)  # each pixel's terms once, summed over its patches
        y = None if compiled is None else compiled(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                                   (h, w))
        if y is not None:
            return y
        cols = self.columns(x)
        n, positions, k = cols.shape
        y = self.tile.read(cols.reshape(n * positions, k))
        return y.reshape(n, positions, self.out_channels).transpose(1, 2).reshape(n, self.out_channels, h, w)

    def backward(self, delta: torch.Tensor, input_size: tuple[int, int]) -> torch.Tensor:
        """Error at the input pixels, (N, C, H, W) for ``input_size = (H, W)``: each position's output error
        ``delta[:, :, i, j]`` through a transposed read of the array, the row errors added back onto the
        pixels of that position's patch (``F.fold``)."""
        compiled = getattr(self.tile, "conv_transposed_read", None)
        err = None if compiled is None else compiled(delta, self.kernel_size, self.stride, self.padding, self.dilation,
                                                     tuple(input_size))
        if err is not None:
            return err
        n = delta.shape[0]
        rows = delta.reshape(n, self.out_channels, -1).transpose(1, 2).reshape(-1, self.out_channels)
        err = self.tile.backward(rows).reshape(n, -1, self.in_features).transpose(1, 2)
        return F.fold(err, tuple(input_size), self.kernel_size, self.dilation, self.padding, self.stride)

    def input_gradient(self, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        return self.backward(grad, x.shape[-2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The read (through :class:`~.autograd.CrossbarRead` where autograd records) plus the bias; images
        (N, C, H, W) or one image (C, H, W)."""
        single = x.dim() == 3
        if single:
            x = x.unsqueeze(0)
        self._images(x)
        if torch.is_grad_enabled() and (self.handle.requires_grad or x.requires_grad):
            y = CrossbarRead.apply(x, self.handle, self)
        else:
            y = self.read(x)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)[:, None, None]
        return y[0] if single else y

    # ---------------------------------------------------------------------------------------- update
    def record(self, x: torch.Tensor, delta: torch.Tensor) -> None:
        """Keep one batch's rank-1 pairs: per sample and output position (raster order), the position's
        im2col input (N, positions, in_features) and output error (N, positions, out_channels)."""
        n = x.shape[0]
        errors = delta.detach().reshape(n, self.out_channels, -1).transpose(1, 2)
        self.records.append((self.columns(x.detach()), errors))

    def plan(self, row_factor: torch.Tensor, col_factor: torch.Tensor, rows=None) -> OuterPlan:
        """The tile's write plan of ``dW = outer(row_factor, col_factor)`` (one position's request)."""
        return self.tile.plan(row_factor, col_factor, rows)

    def write(self, plan: UpdatePlan | OuterPlan, generator: torch.Generator) -> WriteResult:
        return self.tile.write(plan, generator)

    def stream_unsupported(self) -> str | None:
        """Why the positions cannot be written as one stream (:meth:`write_stream`), or None: the tile's
        reason (a buffer-and-counter tile writes position by position)."""
        check = getattr(self.tile, "stream_unsupported", None)
        return f"a {type(self.tile).__name__} tile" if check is None else check()

    def plan_stream(self, row_factors: torch.Tensor, col_factors: torch.Tensor) -> OuterPlans:
        """The tile's write plans of many positions' requests at once (see :meth:`MTJLinear.plan_stream`)."""
        return self.tile.plan_stream(row_factors, col_factors)

    def write_stream(self, plans: OuterPlans, generator: torch.Generator) -> StreamResult:
        """Write the positions' plans in order, in one compiled loop (see :meth:`MTJLinear.write_stream`)."""
        return self.tile.write_stream(plans, generator)
