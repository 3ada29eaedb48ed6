"""A fully connected layer whose weights are binary MTJs in a crossbar (1T1MTJ or passive, by
``hardware.array.kind``).

Forward: the array's read between the periphery's DAC and ADC (:class:`.layer_periphery.LayerPeriphery`):
``gain * x @ W / input_range`` for an ideal array (``W`` the logical weights in [-1, 1]). Backward: the
transposed read ``gain * W @ delta / input_range``. Update: a rank-1 request goes through the pulse encoder
to a write plan that the array applies with its stochastic device physics.

As a torch module (:class:`.autograd.InSituLayer`): ``loss.backward()`` takes the input gradient from the
transposed read and records ``(x, delta)`` for :class:`mtjxbar.optim.InSituSGD`; ``state_dict`` holds the
array's cell states and per-cell parameters (:mod:`.array_state`: the array stays their one owner);
``.to(device)`` / ``.double()`` rebuild the array and the periphery on the target device and dtype with the
same state; ``copy.deepcopy`` copies everything.
"""

from __future__ import annotations

import torch

from ..crossbar import OuterPlans, SeparableRead, StreamResult, UpdatePlan, WriteResult
from ..crossbar.access.read_kernel import use_blas
from ..crossbar.plan import OuterPlan
from ..periphery.arrays import make_array
from ..rng import generator
from .array_state import array_keys, array_tensors, load_array, moved_array
from .autograd import InSituLayer
from .config import HardwareConfig
from .layer_periphery import LayerPeriphery
from .read_kernel import ideal_conv_read, ideal_conv_transposed, ideal_periphery_read, ideal_periphery_terms

__all__ = ["MTJLinear", "manufacture_layers"]


def manufacture_layers(layers: list[MTJLinear], seed: int) -> None:
    """Give each layer's array its chip from ``hardware.variation``: layer ``i`` draws its per-cell parameters
    with ``generator(seed, "variation.layer{i}")`` and its stuck cells with ``"faults.layer{i}"`` (CPU
    generators, so a CUDA run meets the same chip). Networks built from the same seed (the in-situ and the
    ex-situ network of a run) get the same chip. Nothing is drawn for a nominal variation."""
    for i, layer in enumerate(layers):
        variation = layer.hardware.variation
        if variation.is_nominal:
            continue
        for name, xb in layer.arrays().items():  # a transfer layer's bit tiles: "variation.layer{i}.bit{m}"
            tag = f"layer{i}" + (f".{name}" if name else "")
            xb.manufacture(variation, generator(seed, f"variation.{tag}"), generator(seed, f"faults.{tag}"))


class MTJLinear(InSituLayer):
    """``in_features -> out_features`` on one crossbar of ``in_features x mapping.physical_cols`` cells;
    ``bias``: a float bias added digitally after the ADC (trained by the float rule, not on the array)."""

    def __init__(self, in_features: int, out_features: int, hardware: HardwareConfig, gain: float,
                 *, bias: bool = False, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.periphery = LayerPeriphery(in_features, out_features, hardware, gain, device)
        self.in_features, self.out_features, self.gain = in_features, out_features, float(gain)
        self.hardware = hardware
        self.crossbar = self._build_array(device, dtype)
        self.init_in_situ(out_features, bias, device)

    def _build_array(self, device, dtype):
        hw = self.hardware
        return make_array(self.in_features, self.mapping.physical_cols, hw.device, hw.array, hw.solver,
                          hw.circuit_solver, dtype=dtype, device=device)

    @property
    def mapping(self):
        return self.periphery.mapping

    @property
    def encoder(self):
        return self.periphery.encoder

    @property
    def g_ref(self) -> float:
        return self.periphery.g_ref

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, gain={self.gain:g}, "
                f"array={self.hardware.array.kind}, bias={self.bias is not None}")

    # ------------------------------------------------------------------------------ module plumbing
    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination.update({prefix + k: v for k, v in array_tensors(self.crossbar).items()})

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        own = {prefix + k for k in array_keys(self.crossbar)}
        absent = sorted(k for k in own if k not in state_dict)
        if absent:
            missing_keys.extend(absent)
        else:
            try:
                load_array(self.crossbar, {k[len(prefix):]: state_dict[k] for k in own})
            except (ValueError, RuntimeError) as err:
                error_msgs.append(f"while loading the crossbar of {prefix or 'the layer'}: {err}")
        rest = {k: v for k, v in state_dict.items() if k not in own}
        super()._load_from_state_dict(rest, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _apply(self, fn, recurse: bool = True):
        out = super()._apply(fn, recurse)
        xb = self.crossbar
        probe = fn(torch.zeros((), dtype=xb.dtype, device=xb.device))
        if probe.device != xb.device or probe.dtype != xb.dtype:
            if probe.dtype not in (torch.float32, torch.float64):
                raise TypeError(f"MTJLinear computes in float32 or float64, not {probe.dtype}")
            clipped = self.encoder.clipped
            self.periphery = LayerPeriphery(self.in_features, self.out_features, self.hardware, self.gain,
                                            probe.device)
            self.periphery.encoder.clipped = clipped
            self.crossbar = moved_array(xb, lambda: self._build_array(probe.device, probe.dtype))
        return out

    # ------------------------------------------------------------------------------------------- state
    def arrays(self) -> dict[str, object]:
        """Every crossbar of the layer by name (one, named ``""``; see :meth:`TransferLinear.arrays`)."""
        return {"": self.crossbar}

    def randomize(self, generator: torch.Generator) -> None:
        """Random initial states: each MTJ parallel with probability 1/2."""
        draw = torch.rand(self.crossbar.rows, self.crossbar.cols, generator=generator, device=generator.device)
        self.crossbar.set_states((draw < 0.5).to(self.crossbar.device))

    def program(self, weights: torch.Tensor) -> None:
        """Set the states to hold the nearest representable weights (ideal write-verify programming;
        stuck cells keep their stuck state)."""
        if weights.shape != (self.in_features, self.out_features):
            raise ValueError(f"weights of shape {tuple(weights.shape)}: expected "
                             f"({self.in_features}, {self.out_features})")
        self.crossbar.set_states(self.mapping.states_for(weights.to(self.crossbar.device)))

    def weights(self) -> torch.Tensor:
        """Logical weights in [-1, 1] that the states hold, shape (in_features, out_features)."""
        return self.mapping.weights(self.crossbar.parallel)

    # --------------------------------------------------------------------------------------- compute
    def read(self, x: torch.Tensor) -> torch.Tensor:
        """The forward read of inputs ``x`` (..., in_features) between DAC and ADC (no bias; what
        ``layer(x)`` computes without the bias and the autograd hook)."""
        fast = self._compiled_read(x, transposed=False)
        if fast is not None:
            return fast
        v = self.periphery.voltages(x)
        return self.periphery.outputs(self.crossbar.read(v, self.hardware.converters.v_read), v)

    def _compiled_read(self, x: torch.Tensor, transposed: bool) -> torch.Tensor | None:
        """:meth:`read` (or, ``transposed``, :meth:`backward`) of ``x`` by :func:`.read_kernel.ideal_periphery_read`
        where it applies (ideal converters, one MTJ per synapse against the reference column, an array with a
        compiled read, no autograd graph to record through the read); None elsewhere."""
        terms = self._compiled_terms(x) if x.dim() <= 2 else None
        if terms is None:
            return None
        span, scale, table, slope, g_p = terms
        conv, mapping, xb, per = self.hardware.converters, self.mapping, self.crossbar, self.periphery
        flat = x.to(xb.dtype).reshape(-1, x.shape[-1]).contiguous()
        if transposed:
            tiny, in_gain = torch.finfo(xb.dtype).tiny, conv.v_read
            out_gain = self.gain / (per.scale * conv.input_range)
        else:
            tiny, in_gain, out_gain = 0.0, conv.v_read / conv.input_range, self.gain / per.scale
        states, ref_g = xb.states_as_float(), mapping.k * per.g_ref
        if use_blas(flat.shape[0], xb.rows * xb.cols, transposed):  # the terms compiled, the product by BLAS
            extra, base = torch.empty(flat.shape, dtype=xb.dtype), torch.empty(flat.shape[0], 1, dtype=xb.dtype)
            ideal_periphery_terms(flat.numpy(), transposed, tiny, in_gain, conv.v_read, ref_g, out_gain, g_p, span,
                                  scale, table, slope, extra.numpy(), base.numpy())
            out = torch.addmm(base, extra, states.T if transposed else states)
        else:
            out = torch.empty(flat.shape[0], xb.rows if transposed else xb.cols, dtype=xb.dtype)
            ideal_periphery_read(flat.numpy(), transposed, tiny, in_gain, conv.v_read, ref_g, out_gain,
                                 states.numpy(), transposed, g_p, span, scale, table, slope, out.numpy())
        return out if x.dim() == 2 else out.reshape(out.shape[-1])

    def _compiled_terms(self, x: torch.Tensor) -> tuple | None:
        """The array's :meth:`~mtjxbar.crossbar.access.Crossbar.compiled_read` terms where this layer's read
        of ``x`` can be compiled (ideal converters, one MTJ per synapse against the reference column, no
        autograd graph to record through the read), else None."""
        conv, mapping = self.hardware.converters, self.mapping
        if conv.dac_bits is not None or conv.adc_bits is not None or mapping.per_output != 1 \
                or mapping.differential or (x.requires_grad and torch.is_grad_enabled()):
            return None
        compiled = getattr(self.crossbar, "compiled_read", None)
        return None if compiled is None else compiled(conv.v_read)

    def conv_read(self, x: torch.Tensor, kernel_size: tuple[int, int], stride: tuple[int, int],
                  padding: tuple[int, int], dilation: tuple[int, int],
                  out_size: tuple[int, int]) -> torch.Tensor | None:
        """The forward read of every patch of images ``x`` (N, C, H, W) whose im2col rows this array holds
        (``in_features = C * kh * kw``), (N, out_features, H', W') for ``out_size = (H', W')``, by
        :func:`.read_kernel.ideal_conv_read` (each pixel's terms once); None where :meth:`read` is not
        compiled (then read the im2col rows)."""
        terms = self._compiled_terms(x)
        if terms is None:
            return None
        span, scale, table, slope, g_p = terms
        conv, per, xb = self.hardware.converters, self.periphery, self.crossbar
        xs = x.to(xb.dtype).contiguous()
        out = torch.empty(x.shape[0], self.out_features, *out_size, dtype=xb.dtype)
        ideal_conv_read(xs.numpy(), conv.v_read / conv.input_range, conv.v_read, self.mapping.k * per.g_ref,
                        self.gain / per.scale, g_p, span, scale, table, slope, xb.states_as_float().numpy(),
                        *kernel_size, *stride, *padding, *dilation, out.numpy())
        return out

    def conv_transposed_read(self, delta: torch.Tensor, kernel_size: tuple[int, int], stride: tuple[int, int],
                             padding: tuple[int, int], dilation: tuple[int, int],
                             input_size: tuple[int, int]) -> torch.Tensor | None:
        """The input errors of a convolution whose im2col rows this array holds, (N, C, H, W) for output
        errors ``delta`` (N, out_features, H', W') and ``input_size = (H, W)``: each position's
        :meth:`backward` added onto its patch's pixels, by :func:`.read_kernel.ideal_conv_transposed`; None
        where :meth:`backward` is not compiled."""
        terms = self._compiled_terms(delta)
        if terms is None:
            return None
        span, scale, table, slope, g_p = terms
        conv, per, xb = self.hardware.converters, self.periphery, self.crossbar
        ds = delta.to(xb.dtype).contiguous()
        channels = self.in_features // (kernel_size[0] * kernel_size[1])
        out = torch.empty(delta.shape[0], channels, *input_size, dtype=xb.dtype)
        ideal_conv_transposed(ds.numpy(), torch.finfo(xb.dtype).tiny, conv.v_read, conv.v_read,
                              self.mapping.k * per.g_ref, self.gain / (per.scale * conv.input_range), g_p, span,
                              scale, table, slope, xb.states_as_float().numpy(), *kernel_size, *stride, *padding,
                              *dilation, out.numpy())
        return out

    def prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None:
        """Everything of :meth:`read` that depends on the inputs only, for a batch of inputs ``x``
        (batch, in_features) at once: terms with ``read(x[n]) == forward_prepared(*terms[n])`` up to
        float rounding. The DAC, the voltage-dependent AP conductance, the reference column and the output
        scale are folded in (all linear in the column currents); the states are not. None where it does
        not apply (an array whose read does not separate, :class:`~mtjxbar.crossbar.SeparableRead`: passive
        arrays; cells with their own parameters; a quantising ADC; a reporting array): use :meth:`read` there."""
        conv = self.hardware.converters
        if conv.adc_bits is not None or self.crossbar.events is not None \
                or not isinstance(self.crossbar, SeparableRead):
            return None
        v = self.periphery.voltages(x)
        terms = self.crossbar.drive_terms(v, conv.v_read)
        if terms is None:
            return None
        scale = self.gain / self.periphery.scale
        base, extra = terms
        ref = self.mapping.reference_current(v, self.g_ref)
        if self.mapping.per_output == 1:  # one column per output: the reference folds into the base
            return (base - ref) * scale, extra * scale, None
        return base * scale, extra * scale, ref * scale

    def forward_prepared(self, base: torch.Tensor, extra: torch.Tensor, ref: torch.Tensor | None) -> torch.Tensor:
        """:meth:`read` of one input from its :meth:`prepare` terms: one matrix-vector product."""
        out = self.crossbar.read_terms(base, extra)
        return out if ref is None else self.mapping.group(out) - ref

    def backward(self, delta: torch.Tensor) -> torch.Tensor:
        """Error at the inputs, ``gain * W @ delta / input_range``, by a transposed read."""
        fast = self._compiled_read(delta, transposed=True)
        if fast is not None:
            return fast
        cols, u, scale = self.periphery.error_drive(delta)
        rows = self.crossbar.read_transposed(cols, self.hardware.converters.v_read)
        return self.periphery.input_errors(rows, u, scale)

    # ---------------------------------------------------------------------------------------- update
    def plan(self, row_factor: torch.Tensor, col_factor: torch.Tensor, rows=None) -> OuterPlan:
        """Write plan for the requested change ``dW = outer(row_factor, col_factor)`` (logical W); ``rows``:
        the row pulses of ``row_factor`` if already computed (:meth:`PulseEncoder.row_pulses`)."""
        return self.encoder.encode(row_factor, self.mapping.expand(col_factor), self.mapping.full_swing, rows)

    def write(self, plan: UpdatePlan | OuterPlan, generator: torch.Generator) -> WriteResult:
        """Apply ``plan`` to the array: flips sampled from the device model with ``generator``."""
        return self.crossbar.write(plan, generator)

    # ------------------------------------------------------------------ update: many writes at once
    def stream_unsupported(self) -> str | None:
        """Why :meth:`plan_stream` / :meth:`write_stream` cannot take this layer's writes (then
        :meth:`plan` and :meth:`write` one at a time), or None."""
        if self.encoder.config.scheme != "current":
            return f"encoder scheme {self.encoder.config.scheme!r}"
        check = getattr(self.crossbar, "stream_unsupported", None)
        return f"{type(self.crossbar).__name__} arrays" if check is None else check()

    def plan_stream(self, row_factors: torch.Tensor, col_factors: torch.Tensor) -> OuterPlans:
        """:meth:`plan` of the requests ``outer(row_factors[p], col_factors[p])`` (plans, in / out features)
        at once, plan ``p`` number for number :meth:`plan`'s (:meth:`PulseEncoder.encode_stream`)."""
        return self.encoder.encode_stream(row_factors, self.mapping.expand(col_factors), self.mapping.full_swing)

    def write_stream(self, plans: OuterPlans, generator: torch.Generator) -> StreamResult:
        """Apply ``plans`` in order, each on the states the previous one left: :meth:`write` of each, in
        distribution, as one compiled loop (:meth:`Crossbar.write_stream`)."""
        return self.crossbar.write_stream(plans, generator)
