"""The cost meter: collects the events of a network's arrays into per-sample, per-epoch and total costs.

One training sample begins with the forward read of the first array (a read that is not transposed
on array 0) and holds every event up to the next one. Its latency under a schedule is the sum of its
reads (layers read one after the other: each needs the previous one's output; the arrays of one layer,
``ArraySpec.layer``, read its inputs or errors at the same time: the longest of them counts) plus its
writes: each array's encoding and phases in sequence, and the arrays at the same time
(``layers_update_concurrently``) or one after the other. Energies add. Events arriving outside
:meth:`CostMeter.epoch` are ignored (test evaluation, programming), so only training is metered.

**Transfers** (buffer-and-counter layers, ``nn.TransferLinear``): the events of one column transfer arrive
inside :meth:`CostMeter.transfer` (the layer enters it through its arrays' sinks) and are costed apart,
then added to the sample they follow. The transfer runs in steps: the column reads of every array, then
rounds of {phase to P, phase to AP, verify read}; the arrays work at the same time, so a step lasts as long
as its slowest array, and an array's own events within a step (several columns of a multi-MTJ buffer share
its rows) one after the other. Columns of one layer follow each other; layers transfer at the same time
(``layers_update_concurrently``) or one after the other, after the sample's update.

**Fused engine.** The compiled training loop (``training.fused``) reports no events: it adds up, per sample
and layer, the sums the events' costs are linear in (reads' ``sum v^2`` and ``sum v I``, each phase's rows,
columns, pulse widths and ``sum t I^2 R`` terms) and :meth:`CostMeter.add_fused` costs a chunk of samples
from them with the same formulas (:func:`.ledger.fused_tallies`); the figures equal the eager meter's for the
same states and plans (``tests/training/test_fused_meter.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import to_dict
from ..crossbar.events import PassivePhaseEvent, PhaseEvent, ReadEvent, WriteEvent
from ..crossbar.plan import TO_AP, TO_P
from .config import CostConfig, ScheduleConfig
from .exsitu import programming_cost, software_cost, software_macs
from .ledger import ArraySpec, Tally, carry_cost, column_read_cost, fused_tallies, phase_cost, read_cost, write_cost
from .passive import passive_phase_cost, passive_read_cost

__all__ = ["CostMeter", "INSITU", "SCHEDULES", "TRANSFER_COUNTS", "with_transfers"]

INSITU = ("insitu_parallel", "insitu_rowwise")
SCHEDULES = (*INSITU, "exsitu")
#: Transfer counts (summed; per sample in the summary): columns transferred, column reads of one array
#: (initial and verify), of those the verify reads, read steps in time (all arrays of a column at once),
#: write phases in time (two per write round, all arrays at once: ``TransferCounts.write_phases``), cells
#: that saw a write pulse, cells switched.
TRANSFER_COUNTS = ("columns", "reads", "verifies", "read_steps", "write_phases", "cell_writes", "flips")


#: The ex-situ programming of passive arrays is the 1T1MTJ write-verify model's (their half-select
#: programming is not modelled): the summary says so.
PROGRAMMING_NOTE = "write-verify programming costed as on 1T1MTJ arrays (passive half-select not modelled)"


def _tallies() -> dict[str, Tally]:
    return {s: Tally() for s in INSITU}


def with_transfers(summary: dict, transfer: dict) -> None:
    """Put the per-sample ``transfer`` block (counts and, per in-situ schedule, a :meth:`Tally.as_dict`) into
    ``summary``: each in-situ schedule's latency and energy then include the transfers, and its figures
    without them move to ``"without_transfers"``. Used by :meth:`CostMeter.summary` and ``estimate``."""
    for s in INSITU:
        row, extra = summary[s], transfer[s]
        row["without_transfers"] = {k: row[k] for k in ("latency_s", "energy_j", "energy_breakdown_j")}
        breakdown = dict(row["energy_breakdown_j"])
        for key, value in extra["energy_breakdown_j"].items():
            breakdown[key] = breakdown.get(key, 0.0) + value
        row.update(latency_s=row["latency_s"] + extra["latency_s"], energy_j=row["energy_j"] + extra["energy_j"],
                   energy_breakdown_j=breakdown)
    summary["transfer"] = transfer


def _running_sum(start: float, values) -> float:
    """``start`` plus ``values`` added one after the other (as per-sample events are), as a float."""
    return float(np.add.accumulate(np.concatenate(([start], np.asarray(values, dtype=np.float64))))[-1])


@dataclass
class _Counts:
    """Sums over samples: a tally per in-situ schedule, phases, row pulses, flips."""

    samples: int = 0
    tallies: dict[str, Tally] = field(default_factory=lambda: {s: Tally() for s in INSITU})
    phases: int = 0
    row_phases: int = 0  # gated rows summed over phases: the phases of the row-by-row schedule
    flips: int = 0
    transfer_tallies: dict[str, Tally] = field(default_factory=_tallies)  # the transfers, apart from ``tallies``
    transfer: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TRANSFER_COUNTS, 0))

    def add(self, other: _Counts) -> None:
        self.samples += other.samples
        for s in INSITU:
            self.tallies[s].add(other.tallies[s])
            self.transfer_tallies[s].add(other.transfer_tallies[s])
        self.phases += other.phases
        self.row_phases += other.row_phases
        self.flips += other.flips
        for key in TRANSFER_COUNTS:
            self.transfer[key] += other.transfer[key]

    def with_transfers(self, schedule: str) -> Tally:
        """The schedule's tally, transfers included."""
        out = Tally()
        out.add(self.tallies[schedule])
        out.add(self.transfer_tallies[schedule])
        return out

    def to_dict(self) -> dict:
        """JSON-ready (floats round-trip exactly through JSON)."""
        def tallies(d: dict[str, Tally]) -> dict:
            return {s: {"latency": t.latency, "energy": dict(t.energy)} for s, t in d.items()}

        return {"samples": self.samples, "phases": self.phases, "row_phases": self.row_phases, "flips": self.flips,
                "tallies": tallies(self.tallies), "transfer_tallies": tallies(self.transfer_tallies),
                "transfer": dict(self.transfer)}

    @classmethod
    def from_dict(cls, data: dict) -> _Counts:
        """From :meth:`to_dict` (a checkpoint written before transfers were metered has no transfer keys)."""
        def tallies(d: dict | None) -> dict[str, Tally]:
            out = _tallies()
            for s in INSITU if d else ():
                out[s].latency = float(d[s]["latency"])
                out[s].energy.update({k: float(v) for k, v in d[s]["energy"].items()})
            return out

        transfer = dict.fromkeys(TRANSFER_COUNTS, 0)
        transfer.update({k: int(v) for k, v in data.get("transfer", {}).items()})
        return cls(samples=int(data["samples"]), tallies=tallies(data["tallies"]), phases=int(data["phases"]),
                   row_phases=int(data["row_phases"]), flips=int(data["flips"]),
                   transfer_tallies=tallies(data.get("transfer_tallies")), transfer=transfer)


class _Sink:
    """The ``events`` sink of one array: forwards to the meter with the array's index."""

    def __init__(self, meter: CostMeter, index: int) -> None:
        self.meter, self.index = meter, index

    def append(self, event: object) -> None:
        self.meter.record(self.index, event)

    def transfer(self):
        """:meth:`CostMeter.transfer` (a transfer layer enters it through every array's sink)."""
        return self.meter.transfer()


class CostMeter:
    """Latency and energy of in-situ training from the events of ``specs``' arrays, and the ex-situ
    schedule for the same network."""

    def __init__(self, specs: Sequence[ArraySpec], hardware: Any, cost: CostConfig | None = None,
                 schedule: ScheduleConfig | None = None, exsitu_specs: Sequence[ArraySpec] | None = None) -> None:
        """``specs``: one per array, in the order :meth:`attach` gets them; ``exsitu_specs``: the arrays the
        ex-situ schedule trains for and programs (default: the first array of every layer)."""
        self.specs = list(specs)
        self.layers = [i if spec.layer is None else spec.layer for i, spec in enumerate(self.specs)]
        if exsitu_specs is None:
            first = {}
            for layer, spec in zip(self.layers, self.specs, strict=True):
                first.setdefault(layer, spec)
            exsitu_specs = list(first.values())
        self.exsitu_specs = list(exsitu_specs)
        self.hardware = hardware  # .device, .array, .solver, .converters (an nn.HardwareConfig)
        self.cost = cost or CostConfig()
        self.schedule = schedule or ScheduleConfig()
        self.recording = False
        self.epochs: list[_Counts] = []
        self._epoch: _Counts | None = None
        self._sample: dict | None = None
        self._resume: _Counts | None = None  # a part-done epoch from load_state_dict, continued by epoch()
        self._transfer_depth = 0
        self._group: list[tuple[int, object]] | None = None  # events of the column transfer in progress

    # ------------------------------------------------------------------------------------- wiring
    def attach(self, crossbars: Sequence[Any]) -> None:
        """Make each crossbar (in the order of ``specs``) report to this meter."""
        if len(crossbars) != len(self.specs):
            raise ValueError(f"{len(crossbars)} crossbars for {len(self.specs)} array specs")
        for i, xb in enumerate(crossbars):
            xb.events = _Sink(self, i)

    @contextmanager
    def epoch(self) -> Iterator[None]:
        """Record the events of one training epoch (or of any run of training samples)."""
        self._epoch, self.recording = self._resume if self._resume is not None else _Counts(), True
        self._resume = None
        try:
            yield
        finally:
            self._close_sample()
            self.recording = False
            self.epochs.append(self._epoch)
            self._epoch = None

    @contextmanager
    def transfer(self) -> Iterator[None]:
        """The events inside are one column transfer of one layer (re-entrant: the layer enters it once
        per array); they are costed when the outermost exits."""
        self._transfer_depth += 1
        if self._transfer_depth == 1:
            self._group = []
        try:
            yield
        finally:
            self._transfer_depth -= 1
            if self._transfer_depth == 0:
                group, self._group = self._group, None
                if group and self.recording:
                    self._transfer_column(group)

    def state_dict(self) -> dict:
        """The accumulators, JSON-ready, for checkpoints: the finished epochs and, when called inside
        :meth:`epoch` between two samples, the epoch so far (the last sample is complete, so it is
        closed first; closing it now or at the next sample's first read adds the same numbers)."""
        self._close_sample()
        current = self._epoch if self._epoch is not None else self._resume
        return {"epochs": [e.to_dict() for e in self.epochs],
                "current": None if current is None else current.to_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s accumulators; a part-done epoch continues at the next :meth:`epoch`."""
        self.epochs = [_Counts.from_dict(e) for e in state["epochs"]]
        self._resume = None if state.get("current") is None else _Counts.from_dict(state["current"])
        self._epoch, self._sample, self.recording = None, None, False
        self._transfer_depth, self._group = 0, None

    # ----------------------------------------------------------------------------------- recording
    def _open_sample(self) -> dict:
        self._close_sample()
        n = len(self.specs)
        self._sample = {"reads": {}, "writes": {s: [Tally() for _ in range(n)] for s in INSITU},
                        "phases": 0, "row_phases": 0, "flips": 0,
                        "transfer": {s: {} for s in INSITU}, "transfer_counts": dict.fromkeys(TRANSFER_COUNTS, 0)}
        return self._sample

    def _concurrent(self, tallies: Sequence[Tally]) -> Tally:
        """Tallies of units that work at the same time (``layers_update_concurrently``) or one after the
        other: energies add, latency the longest or the sum."""
        out = Tally()
        for t in tallies:
            out.add(t)
        lat = [t.latency for t in tallies]
        if lat and self.schedule.layers_update_concurrently:
            out.latency = max(lat)
        return out

    def _close_sample(self) -> None:
        sample, self._sample = self._sample, None
        if sample is None or self._epoch is None:
            return
        done = _Counts(samples=1, phases=sample["phases"], row_phases=sample["row_phases"], flips=sample["flips"],
                       transfer=sample["transfer_counts"])
        reads = Tally()
        for arrays in sample["reads"].values():  # one layer's forward or transposed read: its arrays at once
            for t in arrays.values():
                reads.add(t)
            reads.latency += max(t.latency for t in arrays.values()) - sum(t.latency for t in arrays.values())
        for s in INSITU:
            done.tallies[s].add(reads)
            done.tallies[s].add(self._concurrent(sample["writes"][s]))
            done.transfer_tallies[s] = self._concurrent(list(sample["transfer"][s].values()))
        self._epoch.add(done)

    def _transfer_column(self, group: list[tuple[int, object]]) -> None:
        """Cost one column transfer (its events in order) and add it to the current sample."""
        sample = self._sample or self._open_sample()
        counts = sample["transfer_counts"]
        lines: dict[tuple[int, int], list] = {}  # (array, driven line) -> its events in order
        for index, event in group:
            if isinstance(event, ReadEvent):
                line = int(event.voltages.reshape(-1, event.driven).abs().sum(0).argmax())
                lines.setdefault((index, line), []).append(event)
                counts["reads"] += event.vectors
            elif isinstance(event, PhaseEvent):
                lines.setdefault((index, int(event.col_currents.argmax())), []).append(event)
                counts["cell_writes"] += event.cells
            elif isinstance(event, WriteEvent):
                counts["flips"] += event.flips
        # steps in time: ("read", 0) the column reads, ("carry", 0), then per round r ("write", r, TO_P),
        # ("write", r, TO_AP) and ("verify", r); within a step, an array's own events one after the other
        steps: dict[tuple, dict[int, tuple[Tally, Tally]]] = {}

        def put(step: tuple, index: int, parallel: Tally, rowwise: Tally) -> None:
            slot = steps.setdefault(step, {}).setdefault(index, (Tally(), Tally()))
            slot[0].add(parallel)
            slot[1].add(rowwise)

        rounds = verify_steps = 0
        read_step = False
        per_sense = 1  # reads of one sense (a two-bias sense reads each line twice: two read steps in time)
        for (index, _), events in lines.items():
            spec = self.specs[index]
            r = v = 0
            seen, last = False, None  # last: polarity of the previous event when it was a phase
            sensing, reads = None, 0  # the step of the previous event when it was a read, and its reads so far
            for event in events:
                if isinstance(event, ReadEvent):
                    if sensing is not None:  # the same sense's next read: same step, in turn, no compare
                        reads += 1
                        per_sense = max(per_sense, reads)
                        counts["verifies"] += sensing[0] == "verify"
                        t = column_read_cost(event, spec, self.cost, self.schedule)
                        put(sensing, index, t, t)
                    elif seen:
                        v += 1
                        counts["verifies"] += 1
                        sensing, reads = ("verify", r), 1
                        t = column_read_cost(event, spec, self.cost, self.schedule, ops_per_line=1)
                        put(sensing, index, t, t)
                    else:
                        read_step = True
                        sensing, reads = ("read", 0), 1
                        t = column_read_cost(event, spec, self.cost, self.schedule)
                        put(sensing, index, t, t)
                    last = None
                else:
                    if last is None or last == event.polarity or (last == TO_AP and event.polarity == TO_P):
                        r += 1  # a new round: after a read, or the polarities start over
                    put(("write", r, event.polarity), index, *phase_cost(event, spec, self.cost))
                    last, sensing = event.polarity, None
                seen = True
            rounds, verify_steps = max(rounds, r), max(verify_steps, v)
        if read_step:
            carry = carry_cost(self.specs[group[0][0]].rows, self.cost)
            put(("carry", 0), -1, carry, carry)
        counts["columns"] += 1
        counts["read_steps"] += (int(read_step) + verify_steps) * per_sense
        counts["write_phases"] += 2 * rounds
        layer = self.layers[group[0][0]]
        for i, s in enumerate(INSITU):
            column = Tally()
            for arrays in steps.values():
                for slot in arrays.values():
                    column.add(slot[i])
                column.latency += max(slot[i].latency for slot in arrays.values()) \
                    - sum(slot[i].latency for slot in arrays.values())
            sample["transfer"][s].setdefault(layer, Tally()).add(column)  # columns of a layer in sequence

    def record(self, index: int, event: object) -> None:
        """Account one event of array ``index`` (ignored unless recording)."""
        if not self.recording:
            return
        if self._group is not None:  # inside a column transfer: costed as one when it ends
            self._group.append((index, event))
            return
        spec = self.specs[index]
        if isinstance(event, ReadEvent) and index == 0 and not event.transposed:
            sample = self._open_sample()
        else:
            sample = self._sample or self._open_sample()
        if isinstance(event, ReadEvent):
            arrays = sample["reads"].setdefault((self.layers[index], event.transposed), {})
            costed = passive_read_cost if spec.kind == "passive" else read_cost
            arrays.setdefault(index, Tally()).add(costed(event, spec, self.cost, self.schedule))
        elif isinstance(event, (PhaseEvent, PassivePhaseEvent)):
            costed = passive_phase_cost if isinstance(event, PassivePhaseEvent) else phase_cost
            parallel, rowwise = costed(event, spec, self.cost)
            sample["writes"]["insitu_parallel"][index].add(parallel)
            sample["writes"]["insitu_rowwise"][index].add(rowwise)
            if event.cells:
                sample["row_phases"] += event.active_rows
        elif isinstance(event, WriteEvent):
            enc = write_cost(event, self.cost)
            for s in INSITU:
                sample["writes"][s][index].add(enc)
            sample["phases"] += event.phases
            sample["flips"] += event.flips

    def add_fused(self, sums: dict) -> None:
        """Account a chunk of samples that the fused loop ran (ignored unless recording): ``sums`` maps the
        kernel's per-sample, per-layer sums (``training.fused.kernels.METER_FIELDS``, arrays (n, layers)),
        ``updated`` (n,), ``write_phases``, ``flips_to_p``, ``flips_to_ap`` and, per layer, the transfer counts
        ``t_columns``, ``t_reads``, ``t_verifies``, ``t_read_steps``, ``t_write_phases``, ``t_cell_writes``,
        ``t_flips`` (n, layers) to their values, and ``v_read`` (V) to the column reads' voltage. The figures
        are added sample after sample, as the eager events are, so how the samples were cut into chunks
        changes no bit of the totals."""
        if not self.recording:
            return
        if max(self.layers) + 1 != sums["writes"].shape[1]:
            raise ValueError(f"add_fused: sums of {sums['writes'].shape[1]} layers for {max(self.layers) + 1}")
        self._close_sample()
        epoch = self._epoch
        epoch.samples += int(sums["writes"].shape[0])
        epoch.phases += int(sums["write_phases"].sum())
        epoch.row_phases += int(round(float(sums["rows"].sum())))
        epoch.flips += int(sums["flips_to_p"].sum() + sums["flips_to_ap"].sum())
        for key in TRANSFER_COUNTS:
            epoch.transfer[key] += int(sums["t_" + key].sum())
        tallies, transfers = fused_tallies(sums, self.specs, self.cost, self.schedule)
        for target, source in ((epoch.tallies, tallies), (epoch.transfer_tallies, transfers)):
            for s in INSITU:
                latency, energy = source[s]
                t = target[s]
                t.latency = _running_sum(t.latency, latency)
                for key, values in energy.items():
                    t.energy[key] = _running_sum(t.energy[key], values)

    # ------------------------------------------------------------------------------------- results
    def programming(self) -> dict:
        """Write-verify programming of every cell once (the ex-situ schedule's last step)."""
        return programming_cost(self.exsitu_specs, self.hardware, self.cost, self.schedule)

    def array_kind(self) -> str:
        """The kind of the metered arrays (``"1t1mtj"``, ``"passive"``; ``"mixed"`` if they differ)."""
        kinds = {spec.kind for spec in self.specs}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def summary(self, amortise_over: int | None = None) -> dict:
        """Per-sample means, per-epoch and total figures of the three schedules (JSON-ready).

        The ex-situ programming is done once and amortised over ``amortise_over`` training samples
        (default: the samples metered, or ``schedule.training_samples`` when none were).
        """
        total = _Counts()
        for e in self.epochs:
            total.add(e)
        n = max(total.samples, 1)
        amortise = amortise_over or total.samples or self.schedule.training_samples
        software = software_cost(self.exsitu_specs, self.cost)
        program = self.programming()
        out: dict[str, Any] = {"samples": total.samples, "array_kind": self.array_kind()}
        for s in INSITU:
            out[s] = {**total.tallies[s].as_dict(per=n),
                      "phases": (total.phases if s == "insitu_parallel" else total.row_phases) / n,
                      "flips": total.flips / n}
        transfer: dict[str, Any] = {k: v / n for k, v in total.transfer.items()}
        transfer.update({s: total.transfer_tallies[s].as_dict(per=n) for s in INSITU})
        with_transfers(out, transfer)
        out["exsitu"] = {
            "latency_s": software.latency + program["latency_s"] / amortise,
            "energy_j": software.energy_total + program["energy_j"] / amortise,
            "software_latency_s": software.latency,
            "software_energy_j": software.energy_total,
            "software_macs": software_macs(self.exsitu_specs),
            "programming_latency_s": program["latency_s"] / amortise,
            "programming_energy_j": program["energy_j"] / amortise,
            "amortised_over_samples": amortise,
        }
        out["programming"] = program if out["array_kind"] == "1t1mtj" else {**program, "note": PROGRAMMING_NOTE}
        out["epochs"] = [self._epoch_dict(e, software) for e in self.epochs]
        out["totals"] = {s: total.with_transfers(s).as_dict() for s in INSITU}
        out["totals"]["transfer"] = {**total.transfer, **{s: total.transfer_tallies[s].as_dict() for s in INSITU}}
        out["totals"]["exsitu"] = {"latency_s": software.latency * total.samples + program["latency_s"],
                                   "energy_j": software.energy_total * total.samples + program["energy_j"]}
        out["config"] = {"cost": to_dict(self.cost), "schedule": to_dict(self.schedule)}
        return out

    @staticmethod
    def _epoch_dict(e: _Counts, software: Tally) -> dict:
        d: dict[str, Any] = {"samples": e.samples, "phases": e.phases, "row_phases": e.row_phases, "flips": e.flips}
        for s in INSITU:  # transfers included, and apart
            t = e.with_transfers(s)
            d[s] = {"latency_s": t.latency, "energy_j": t.energy_total}
        d["transfer"] = {**e.transfer, **{s: {"latency_s": e.transfer_tallies[s].latency,
                                              "energy_j": e.transfer_tallies[s].energy_total} for s in INSITU}}
        d["exsitu_software"] = {"latency_s": software.latency * e.samples,
                                "energy_j": software.energy_total * e.samples}
        return d
