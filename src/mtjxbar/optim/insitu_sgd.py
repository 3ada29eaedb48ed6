"""InSituSGD: a ``torch.optim.Optimizer`` that trains crossbar-backed layers by writing their arrays.

What ``step()`` does for each crossbar layer (an :class:`~mtjxbar.nn.autograd.InSituLayer` whose
``handle`` is among the parameters): every ``(x, delta)`` pair that ``loss.backward()`` recorded becomes
the CLI's per-sample request (:func:`mtjxbar.optim.rules.sgd_request`: ``dW_ij = x_i * (-lr * gain *
delta_j / input_range)``), goes through the layer's pulse encoder to a write plan and is written with the
device physics, one rank-1 write per sample in sample order, as the chip would do them: a batch of B
samples is B writes. ``delta`` is ``dL/dy`` of the loss as written, so with a batch-mean loss each write
carries ``1/B`` of its sample's gradient and the B writes together ask for the batch-mean step of float
SGD. A convolution (:class:`~mtjxbar.nn.MTJConv2d`) records one ``(im2col input, error)`` pair per output
position, and its sample is one rank-1 write per position, in raster order (the order the periphery
streams them). With ``engine="auto"`` (the default) a sample's writes to a layer that can take a stream
(``layer.stream_unsupported()`` is None: 1T1MTJ arrays of uniform cells, the current scheme, also the
buffer of a buffer-and-counter layer) are
encoded in one batch (``layer.plan_stream``) and written by one compiled loop over them
(``layer.write_stream``), each on the states the previous one left (a linear layer's single write too):
the same writes, phases and distribution as one ``plan`` / ``write`` per write (``engine="eager"``, the
reference and the path of every other layer, and the CLI's eager engine), with other random draws.
Writes whose input or error is all zero write nothing (no pulse to fire; for a convolution after max
pooling or ReLU, most positions). A layer
with a buffer and counter (:class:`~mtjxbar.nn.TransferLinear`, or a convolution on one,
``hardware.transfer.counter_bits > 0``: the project's best rule) runs its scheduled transfers after every
sample (after all of a convolution's positions), clocked by the samples it has seen, as in the CLI's
loop: the rule is a property of the layer's hardware, and this optimizer drives both.

Float parameters (anything else, e.g. a bias or a float head) in the same groups are updated by plain SGD,
``p -= lr * p.grad``, with the group's learning rate. For another float rule pass only the crossbar
handles here (:func:`split_parameters`) and the float parameters to a second torch optimizer.

Order and randomness: sample by sample, as the chip and the CLI's loop do it: for sample ``n`` every
layer's write (in parameter order), then every layer's scheduled transfers. One ``torch.Generator`` per
device draws them all (``generator``, or derived from ``seed`` with :func:`mtjxbar.rng.generator` under the
name ``"optim.write"``); its state is part of :meth:`InSituSGD.state_dict`, so a restored optimizer
continues the same random stream. A param group may bring its own ``"generator"`` (the CLI's loop gives
each layer its own); that one's state is its owner's to keep.

The transfer schedule is clocked by samples: :meth:`InSituSGD.idle` is a sample with nothing to write (a
margin met) whose transfers still run, and :meth:`InSituSGD.clock` sets the count where a loop resumes.
What the writes did accumulates per layer in ``optimizer.state[handle]`` (``writes``, ``flips``,
``disturb_flips``, ``phases``, and ``transfer``: the transfer layers' counts by name).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from ..nn.autograd import in_situ_layer
from ..rng import generator as named_generator
from .firing import gather_firing
from .rules import sgd_request

__all__ = ["InSituSGD", "split_parameters", "ENGINES"]

ENGINES = ("auto", "eager")


def split_parameters(model: torch.nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``(crossbar handles, float parameters)`` of ``model``: the first for :class:`InSituSGD`, the second
    for whatever float optimizer the user chooses."""
    handles, floats = [], []
    for p in model.parameters():
        (handles if in_situ_layer(p) is not None else floats).append(p)
    return handles, floats


class InSituSGD(torch.optim.Optimizer):
    """In-situ SGD on crossbar layers, plain SGD on float parameters (see the module docstring).

    ``params``: a module (all its parameters), an iterable of parameters or of param-group dicts (each
    may set its own ``lr``). ``lr``: the learning rate of the request (schedulers from
    ``torch.optim.lr_scheduler`` change it per group). ``generator`` / ``seed``: the write randomness.
    ``engine``: ``"auto"`` writes a sample's writes to a layer as one stream where the layer can
    (:meth:`~mtjxbar.nn.MTJLinear.stream_unsupported`), ``"eager"`` always one ``plan`` / ``write`` call
    per write (the reference; same distribution, other random draws).
    """

    def __init__(self, params: torch.nn.Module | Iterable, lr: float, *, generator: torch.Generator | None = None,
                 seed: int = 0, engine: str = "auto") -> None:
        if not lr >= 0.0:
            raise ValueError(f"lr = {lr!r}: must be >= 0")
        if engine not in ENGINES:
            raise ValueError(f"engine = {engine!r}: must be one of {ENGINES}")
        self.engine = engine
        if isinstance(params, torch.nn.Module):
            params = params.parameters()
        super().__init__(params, {"lr": float(lr)})
        self.seed = int(seed)
        self.generators: dict[str, torch.Generator] = {}
        if generator is not None:
            self.generators[str(generator.device)] = generator
        self.counts = {"writes": 0, "flips": 0, "phases": 0}  # what the writes did so far (diagnostics)

    def generator_for(self, device: torch.device) -> torch.Generator:
        """The write generator of ``device`` (created from ``seed`` on first use)."""
        key = str(torch.device(device))
        if key not in self.generators:
            self.generators[key] = named_generator(self.seed, "optim.write", device)
        return self.generators[key]

    def generator_of(self, group: dict, device: torch.device) -> torch.Generator:
        """The write generator of a param group: its own ``"generator"`` if it has one, else the device's."""
        own = group.get("generator")
        return own if own is not None else self.generator_for(device)

    def layers(self):
        """Every crossbar layer whose handle this optimizer holds, with its group."""
        for group in self.param_groups:
            for p in group["params"]:
                layer = in_situ_layer(p)
                if layer is not None:
                    yield layer, p, group

    @torch.no_grad()
    def step(self, closure=None):
        """Write every recorded sample into its layer's arrays; SGD on the float parameters."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        jobs = []
        for group in self.param_groups:
            for p in group["params"]:
                layer = in_situ_layer(p)
                if layer is not None:
                    job = self.samples_of(layer, p, group)
                    if job is not None:
                        jobs.append(job)
                elif p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"])
        longest = max((job["samples"] for job in jobs), default=0)
        for n in range(longest):  # sample-major, as the chip and the CLI's loop: all writes, then transfers
            live = [job for job in jobs if n < job["samples"]]
            for job in live:
                if job["stream"]:
                    self.write_stream(job, n)
                    continue
                for p in job["fire"][n].tolist():  # a convolution's positions in raster order; one for a linear layer
                    self.write_sample(job, n, p)
            for job in live:
                self.transfer_sample(job["layer"], job["state"], job["generator"])
        return loss

    @torch.no_grad()
    def idle(self) -> None:
        """One sample with nothing to write (no error, e.g. its margin was met): no layer writes, but every
        layer's sample count advances and the transfer layers run the transfers it schedules, as on the
        chip. Call it instead of ``backward(); step()`` for such a sample."""
        for group in self.param_groups:
            for p in group["params"]:
                layer = in_situ_layer(p)
                if layer is not None:
                    self.transfer_sample(layer, self.state[p], self.generator_of(group, layer.crossbar.device))

    def clock(self, samples: int) -> None:
        """Set every layer's sample count, which schedules the transfers (0-based: the next sample is number
        ``samples``), e.g. where a loop resumes or counts samples over epochs."""
        for _, p, _ in self.layers():
            self.state[p]["samples"] = int(samples)

    def transfer_sample(self, layer, state: dict, generator: torch.Generator) -> None:
        """After one sample of ``layer``: its scheduled transfers (transfer layers) and its sample count."""
        state.setdefault("samples", 0)
        transfer_after = getattr(layer, "transfer_after", None)
        if transfer_after is not None:
            totals = state.setdefault("transfer", {})
            for name, value in vars(transfer_after(state["samples"], generator)).items():
                totals[name] = totals.get(name, 0) + int(value)
        state["samples"] += 1

    def samples_of(self, layer, handle: torch.Tensor, group: dict) -> dict | None:
        """The recorded samples of ``layer`` (taken from it, :meth:`~mtjxbar.nn.InSituLayer.take_writes`)
        and what writing them needs; None if none. ``fire[n]``: the writes of sample ``n`` that fire, in
        order (those whose input and error are both nonzero somewhere; a LongTensor of their indices)."""
        writes = layer.take_writes()
        if writes is None:
            return None
        xb = layer.crossbar
        x, delta = (t.to(device=xb.device, dtype=xb.dtype) for t in writes)
        state = self.state[handle]
        state.setdefault("samples", 0)
        stream = self.engine == "auto" and getattr(layer, "stream_unsupported", lambda: "no stream")() is None
        job = {"layer": layer, "x": x, "delta": delta, "lr": group["lr"], "state": state, "samples": x.shape[0],
               "generator": self.generator_of(group, xb.device), "stream": stream}
        if not stream:  # the stream finds its positions itself (gather_firing)
            fires = (x != 0).any(dim=2) & (delta != 0).any(dim=2)
            job["fire"] = [fires[n].nonzero().flatten() for n in range(x.shape[0])]  # ascending: in order
        elif xb.device.type == "cpu":  # NumPy views until the plans: a tensor operation costs more than its work
            job["x"], job["delta"] = x.numpy(), delta.numpy()  # strided views (a convolution's im2col rows)
        return job

    def write_sample(self, job: dict, n: int, p: int = 0) -> None:
        """Write ``p`` (an output position of a convolution; 0 for a linear layer) of sample ``n`` of a
        layer's job as one rank-1 write."""
        layer = job["layer"]
        row, col = sgd_request(job["x"][n, p], job["delta"][n, p], job["lr"], layer.gain,
                               layer.hardware.converters.input_range)
        plan = layer.plan(row, col)
        result = layer.write(plan, job["generator"])
        flips = result.flips_to_p + result.flips_to_ap
        for counts in (self.counts, job["state"]):
            counts["writes"] = counts.get("writes", 0) + 1
            counts["flips"] = counts.get("flips", 0) + flips
            counts["phases"] = counts.get("phases", 0) + len(plan)
        job["state"]["disturb_flips"] = job["state"].get("disturb_flips", 0) + result.disturb_flips

    def write_stream(self, job: dict, n: int) -> None:
        """The writes of sample ``n`` of a layer's job (its firing positions, in order) as one stream: the
        requests of :meth:`write_sample`, encoded together (``layer.plan_stream``) and written in one compiled
        loop over the positions (``layer.write_stream``), each on the states the previous one left."""
        x, delta = job["x"][n], job["delta"][n]
        layer = job["layer"]
        if isinstance(x, np.ndarray):  # a CPU job (samples_of)
            at, x, delta = gather_firing(x, delta)
        else:
            at = ((x != 0).any(dim=1) & (delta != 0).any(dim=1)).nonzero().flatten()
            x, delta = x.index_select(0, at), delta.index_select(0, at)
        if not len(at):
            return
        rows, cols = sgd_request(x, delta, job["lr"], layer.gain, layer.hardware.converters.input_range)
        plans = layer.plan_stream(torch.as_tensor(rows), torch.as_tensor(cols))
        result = layer.write_stream(plans, job["generator"])
        flips, phases = int(result.flips.numpy().sum()), int(result.phases.numpy().sum())
        for counts in (self.counts, job["state"]):
            counts["writes"] = counts.get("writes", 0) + len(at)
            counts["flips"] = counts.get("flips", 0) + flips
            counts["phases"] = counts.get("phases", 0) + phases
        job["state"]["disturb_flips"] = job["state"].get("disturb_flips", 0)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients and the crossbar layers' recorded samples (they are this step's gradient)."""
        super().zero_grad(set_to_none)
        for layer, _, _ in self.layers():
            layer.clear_records()

    def state_dict(self) -> dict:
        """torch's optimizer state plus the write generators' states (``"generators"``); a group's own
        ``"generator"`` is left out (its owner keeps its state)."""
        out = super().state_dict()
        out["param_groups"] = [{k: v for k, v in g.items() if k != "generator"} for g in out["param_groups"]]
        out["generators"] = {key: g.get_state() for key, g in self.generators.items()}
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop("generators", {})
        own = [g.get("generator") for g in self.param_groups]
        super().load_state_dict(state_dict)
        for group, gen in zip(self.param_groups, own, strict=True):
            if gen is not None:
                group["generator"] = gen
        for key, value in saved.items():
            self.generator_for(torch.device(key)).set_state(value)
