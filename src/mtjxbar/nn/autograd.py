"""Autograd for crossbar-backed layers: forward is the array read, backward is the transposed read.

Why a custom function: autograd left to itself differentiates the arithmetic of the forward read. A chip
does not: it gets the error at a layer's inputs from a second physical operation, the *transposed read*
(columns driven with the output errors, rows sensed). On an ideal array the two agree; with wire
resistance, bias-dependent cells or converters they do not, and training on the chip follows the
transposed read. :class:`CrossbarRead` makes ``loss.backward()`` compute what the chip computes.

The weight update is not a gradient in autograd's sense either: the chip writes a rank-1 request per
sample, built from the layer's input ``x`` and its output error ``delta``. So the backward pass records
those pairs on the layer (:meth:`InSituLayer.record`) and the optimizer
(:class:`mtjxbar.optim.InSituSGD`) turns them into writes. The graph hangs on :attr:`InSituLayer.handle`,
a scalar parameter that makes the layer part of ``model.parameters()`` and lets ``backward`` reach a layer
whose input needs no gradient (the first layer); its own gradient is always zero.
"""

from __future__ import annotations

import weakref

import torch

__all__ = ["CrossbarRead", "InSituLayer", "in_situ_layer"]

HANDLE_ATTRIBUTE = "in_situ_layer"  # attribute of a handle parameter: a weak reference to its layer


def in_situ_layer(param: torch.Tensor) -> InSituLayer | None:
    """The crossbar-backed layer whose :attr:`~InSituLayer.handle` ``param`` is; None for any other tensor
    (an ordinary float parameter)."""
    ref = getattr(param, HANDLE_ATTRIBUTE, None)
    layer = ref() if ref is not None else None
    return layer if layer is not None and layer.handle is param else None


class CrossbarRead(torch.autograd.Function):
    """``y = layer.read(x)``; backward: ``dL/dx = layer.input_gradient(x, dL/dy)`` (the transposed read,
    only where ``x`` needs a gradient) and ``(x, dL/dy)`` recorded on the layer (only where its handle needs
    one). ``x`` is whatever the layer's read takes: feature rows for a linear layer, images for a
    convolution (which reads, records and transposes per output position itself)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, handle: torch.Tensor, layer: InSituLayer, read=None) -> torch.Tensor:
        """``read``: a callable that gives ``layer.read(x)`` from terms computed ahead (a batch's
        :meth:`~mtjxbar.nn.MTJLinear.prepare`), or None for ``layer.read``."""
        ctx.layer = layer
        ctx.save_for_backward(x, handle)
        return layer.read(x) if read is None else read(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, handle = ctx.saved_tensors
        layer = ctx.layer
        if ctx.needs_input_grad[1]:
            layer.record(x, grad)
        gx = layer.input_gradient(x, grad).to(x.dtype) if ctx.needs_input_grad[0] else None
        return gx, torch.zeros_like(handle), None, None


class InSituLayer(torch.nn.Module):
    """Base of the crossbar-backed layers: the autograd hook, the recorded (input, error) pairs and an
    optional bias in the periphery. Subclasses provide ``read(x)`` (the forward read between DAC and ADC,
    inputs ``(batch, in_features)`` or ``(in_features,)``), ``backward(delta)`` (the transposed read),
    ``plan`` / ``write`` (the update), ``crossbar`` (the array the per-sample writes go to), ``gain``,
    ``hardware`` and ``in_features`` / ``out_features``. A layer whose read is not one row per sample (a
    convolution) overrides :meth:`forward`, :meth:`input_gradient` and :meth:`record`."""

    def init_in_situ(self, out_features: int, bias: bool, device: str | torch.device) -> None:
        """Call from ``__init__`` after ``torch.nn.Module.__init__``: the handle, the record list and the
        bias (a float parameter added digitally after the ADC, zero-initialised; None without)."""
        self.handle = torch.nn.Parameter(torch.zeros((), device=device))
        self.records: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.register_parameter("bias", torch.nn.Parameter(torch.zeros(out_features, device=device)) if bias else None)
        self.bind_handle()

    def bind_handle(self) -> None:
        """Point the handle at this layer (after construction, a copy, or a move that replaced it)."""
        setattr(self.handle, HANDLE_ATTRIBUTE, weakref.ref(self))

    def __setstate__(self, state: dict) -> None:  # copy.deepcopy and pickle: the copied handle is new
        super().__setstate__(state)
        self.bind_handle()

    def _apply(self, fn, recurse: bool = True):
        out = super()._apply(fn, recurse)
        self.bind_handle()  # torch may replace a parameter instead of moving its data
        return out

    # -------------------------------------------------------------------------------------- compute
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The read (through :class:`CrossbarRead` where autograd records), plus the bias. Inputs of any
        leading shape ``(..., in_features)``."""
        lead = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1]) if x.dim() > 2 else x
        if torch.is_grad_enabled() and (self.handle.requires_grad or x.requires_grad):
            y = CrossbarRead.apply(flat, self.handle, self)
        else:
            y = self.read(flat)
        if x.dim() > 2:
            y = y.reshape(*lead, y.shape[-1])
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def input_gradient(self, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """``dL/dx`` of the read of ``x`` given ``dL/dy``: the transposed read of the output errors."""
        return self.backward(grad)

    # --------------------------------------------------------------------------------------- records
    def record(self, x: torch.Tensor, delta: torch.Tensor) -> None:
        """Keep one batch's inputs and output errors (``dL/dy``, one row per sample) for the update."""
        self.records.append((x.detach().reshape(-1, x.shape[-1]), delta.detach().reshape(-1, delta.shape[-1])))

    def take_records(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The recorded ``(inputs (n, in), errors (n, out))`` batches in the order of their backward passes,
        and forget them."""
        out = list(self.records)
        self.records.clear()  # in place: nn.Module.__setattr__ costs more than the list
        return out

    def take_writes(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The recorded rank-1 pairs as the periphery streams them, and forget them: ``(inputs (samples,
        writes, in_features), errors (samples, writes, out_features))``, one write per sample for a linear
        layer (records of shape (n, features)), one per output position for a convolution (records of shape
        (n, positions, features)); batches of fewer positions are padded with zero rows (they write
        nothing). None if nothing was recorded."""
        records = self.take_records()
        if not records:
            return None
        pairs = [tuple(t.reshape(t.shape[0], -1, t.shape[-1]) for t in r) for r in records]
        if len(pairs) == 1:  # one backward pass (the usual step): nothing to pad or join
            return pairs[0]
        most = max(x.shape[1] for x, _ in pairs)
        grown = [tuple(torch.nn.functional.pad(t, (0, 0, 0, most - t.shape[1])) for t in pair) for pair in pairs]
        return torch.cat([x for x, _ in grown]), torch.cat([d for _, d in grown])

    def clear_records(self) -> None:
        self.records.clear()
