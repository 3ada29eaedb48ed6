"""The cost meter: collects the events of a network's arrays into per-sample, per-epoch and total costs.

One training sample begins with the forward read of the first array (a read that is not transposed
on array 0) and holds every event up to the next one. Its latency under a schedule is the sum of its
reads (layers read one after the other: each needs the previous one's output) plus its writes: each
array's encoding and phases in sequence, and the arrays at the same time (``layers_update_concurrently``)
or one after the other. Energies add. Events arriving outside :meth:`CostMeter.epoch` are ignored (test
evaluation, programming), so only training is metered.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..config import to_dict
from ..crossbar.events import PhaseEvent, ReadEvent, WriteEvent
from .config import CostConfig, ScheduleConfig
from .exsitu import programming_cost, software_cost, software_macs
from .ledger import ArraySpec, Tally, phase_cost, read_cost, write_cost

__all__ = ["CostMeter", "INSITU", "SCHEDULES"]

INSITU = ("insitu_parallel", "insitu_rowwise")
SCHEDULES = (*INSITU, "exsitu")


@dataclass
class _Counts:
    """Sums over samples: a tally per in-situ schedule, phases, row pulses, flips."""

    samples: int = 0
    tallies: dict[str, Tally] = field(default_factory=lambda: {s: Tally() for s in INSITU})
    phases: int = 0
    row_phases: int = 0  # gated rows summed over phases: the phases of the row-by-row schedule
    flips: int = 0

    def add(self, other: _Counts) -> None:
        self.samples += other.samples
        for s in INSITU:
            self.tallies[s].add(other.tallies[s])
        self.phases += other.phases
        self.row_phases += other.row_phases
        self.flips += other.flips

    def to_dict(self) -> dict:
        """JSON-ready (floats round-trip exactly through JSON)."""
        return {"samples": self.samples, "phases": self.phases, "row_phases": self.row_phases, "flips": self.flips,
                "tallies": {s: {"latency": t.latency, "energy": dict(t.energy)} for s, t in self.tallies.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> _Counts:
        tallies = {}
        for s in INSITU:
            t = data["tallies"][s]
            tally = Tally(latency=float(t["latency"]))
            tally.energy.update({k: float(v) for k, v in t["energy"].items()})
            tallies[s] = tally
        return cls(samples=int(data["samples"]), tallies=tallies, phases=int(data["phases"]),
                   row_phases=int(data["row_phases"]), flips=int(data["flips"]))


class _Sink:
    """The ``events`` sink of one array: forwards to the meter with the array's index."""

    def __init__(self, meter: CostMeter, index: int) -> None:
        self.meter, self.index = meter, index

    def append(self, event: object) -> None:
        self.meter.record(self.index, event)


class CostMeter:
    """Latency and energy of in-situ training from the events of ``specs``' arrays, and the ex-situ
    schedule for the same network."""

    def __init__(self, specs: Sequence[ArraySpec], hardware: Any, cost: CostConfig | None = None,
                 schedule: ScheduleConfig | None = None) -> None:
        self.specs = list(specs)
        self.hardware = hardware  # .device, .array, .solver, .converters (an nn.HardwareConfig)
        self.cost = cost or CostConfig()
        self.schedule = schedule or ScheduleConfig()
        self.recording = False
        self.epochs: list[_Counts] = []
        self._epoch: _Counts | None = None
        self._sample: dict | None = None
        self._resume: _Counts | None = None  # a part-done epoch from load_state_dict, continued by epoch()

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

    # ----------------------------------------------------------------------------------- recording
    def _open_sample(self) -> dict:
        self._close_sample()
        n = len(self.specs)
        self._sample = {"reads": Tally(), "writes": {s: [Tally() for _ in range(n)] for s in INSITU},
                        "phases": 0, "row_phases": 0, "flips": 0}
        return self._sample

    def _close_sample(self) -> None:
        sample, self._sample = self._sample, None
        if sample is None or self._epoch is None:
            return
        done = _Counts(samples=1, phases=sample["phases"], row_phases=sample["row_phases"], flips=sample["flips"])
        for s in INSITU:
            tally = done.tallies[s]
            tally.add(sample["reads"])
            writes = sample["writes"][s]
            for w in writes:
                tally.add(w)
            lat = [w.latency for w in writes]
            tally.latency += (max(lat) if self.schedule.layers_update_concurrently else sum(lat)) - sum(lat)
        self._epoch.add(done)

    def record(self, index: int, event: object) -> None:
        """Account one event of array ``index`` (ignored unless recording)."""
        if not self.recording:
            return
        spec = self.specs[index]
        if isinstance(event, ReadEvent) and index == 0 and not event.transposed:
            sample = self._open_sample()
        else:
            sample = self._sample or self._open_sample()
        if isinstance(event, ReadEvent):
            sample["reads"].add(read_cost(event, spec, self.cost, self.schedule))
        elif isinstance(event, PhaseEvent):
            parallel, rowwise = phase_cost(event, spec, self.cost)
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

    # ------------------------------------------------------------------------------------- results
    def programming(self) -> dict:
        """Write-verify programming of every cell once (the ex-situ schedule's last step)."""
        return programming_cost(self.specs, self.hardware, self.cost, self.schedule)

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
        software = software_cost(self.specs, self.cost)
        program = self.programming()
        out: dict[str, Any] = {"samples": total.samples}
        for s in INSITU:
            out[s] = {**total.tallies[s].as_dict(per=n),
                      "phases": (total.phases if s == "insitu_parallel" else total.row_phases) / n,
                      "flips": total.flips / n}
        out["exsitu"] = {
            "latency_s": software.latency + program["latency_s"] / amortise,
            "energy_j": software.energy_total + program["energy_j"] / amortise,
            "software_latency_s": software.latency,
            "software_energy_j": software.energy_total,
            "software_macs": software_macs(self.specs),
            "programming_latency_s": program["latency_s"] / amortise,
            "programming_energy_j": program["energy_j"] / amortise,
            "amortised_over_samples": amortise,
        }
        out["programming"] = program
        out["epochs"] = [self._epoch_dict(e, software) for e in self.epochs]
        out["totals"] = {s: total.tallies[s].as_dict() for s in INSITU}
        out["totals"]["exsitu"] = {"latency_s": software.latency * total.samples + program["latency_s"],
                                   "energy_j": software.energy_total * total.samples + program["energy_j"]}
        out["config"] = {"cost": to_dict(self.cost), "schedule": to_dict(self.schedule)}
        return out

    @staticmethod
    def _epoch_dict(e: _Counts, software: Tally) -> dict:
        d: dict[str, Any] = {"samples": e.samples, "phases": e.phases, "row_phases": e.row_phases, "flips": e.flips}
        for s in INSITU:
            d[s] = {"latency_s": e.tallies[s].latency, "energy_j": e.tallies[s].energy_total}
        d["exsitu_software"] = {"latency_s": software.latency * e.samples,
                                "energy_j": software.energy_total * e.samples}
        return d
