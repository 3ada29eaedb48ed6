"""Everything a run holds between two training samples, and its round trip through a checkpoint.

:class:`RunState` builds the networks, generators and cost meter of a config exactly as a fresh run
does, and turns its state into tensors (cell states and per-cell parameters of every array, software
weights, generator states) and JSON (position, history, meter accumulators, interpolation-table spans)
and back. Restoring a checkpoint into a fresh :class:`RunState` of the same config and data gives the
state the run had when it was saved, bit for bit.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from ..config import to_dict
from ..crossbar import Crossbar
from ..hardware import attach_meter
from ..periphery import SynapseMapping, TransferConfig
from ..rng import generator
from ..training import EpochStats, InSituNetwork, SoftwareMLP, build_architecture
from .checkpoint import CheckpointError, check_tensors, config_diff
from .config import ExperimentConfig
from .datasets import Dataset

__all__ = ["Position", "RunState", "data_sha256", "check_config", "check_resumable", "RESUMABLE_FIELDS"]

#: Config fields a resumed run may change: more epochs extend a run (nothing else depends on their number).
RESUMABLE_FIELDS = ("training.epochs",)
PHASES = ("insitu", "baselines")


@dataclass
class Position:
    """Where a run is: in ``epoch``, ``phase`` "insitu" with ``sample`` samples done, or "baselines"
    (the in-situ part of the epoch done and evaluated, the software baselines not started)."""

    epoch: int = 0
    phase: str = "insitu"
    sample: int = 0

    @classmethod
    def parse(cls, data: object, path: Path) -> Position:
        """A position from a checkpoint's JSON (errors name ``path``)."""
        ok = isinstance(data, dict) and set(data) == {"epoch", "phase", "sample"} and data["phase"] in PHASES \
            and all(isinstance(data[k], int) and not isinstance(data[k], bool) and data[k] >= 0
                    for k in ("epoch", "sample"))
        if not ok:
            raise CheckpointError(f"{path}: corrupted checkpoint (bad position {data!r:.80})")
        return cls(**data)

    @property
    def epochs_needed(self) -> int:
        """Epochs a config must have to continue from here (those begun)."""
        return self.epoch + (0 if self.phase == "insitu" and self.sample == 0 else 1)


def data_sha256(data: Dataset) -> str:
    """sha256 of the training and test tensors (a resumed run must see the same data)."""
    h = hashlib.sha256()
    for t in (data.train_x, data.train_y, data.test_x, data.test_y):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


#: config fields added after checkpoints were written, with the value that does what those runs did: a
#: checkpoint without one resumes as if it had that value (any other missing field is a difference)
ADDED_FIELDS = {"hardware.array.write_compensation_model": "solve"}


def stored_config(stored: dict) -> dict:
    """A checkpoint's config with the fields of :data:`ADDED_FIELDS` it lacks set to their old behaviour, so
    that a run checkpointed before such a field existed resumes (and one that asks for another value is
    refused, naming the field)."""
    out = copy.deepcopy(stored)
    for path, value in ADDED_FIELDS.items():
        *parents, name = path.split(".")
        node = out
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and name not in node:
            node[name] = value
    return out


def check_config(path: Path, record: dict, config: ExperimentConfig) -> None:
    """Refuse a config that differs from the checkpointed one (``record``, a state.json, read by
    :func:`stored_config`) in any field but :data:`RESUMABLE_FIELDS`, or has fewer epochs than the run has
    begun; the message lists every field that differs with both values."""
    diffs = [d for d in config_diff(stored_config(record["config"]), to_dict(config))
             if d[0] not in RESUMABLE_FIELDS]
    if diffs:
        listed = "; ".join(f"{p}: {a!r} in the checkpoint, {b!r} asked" for p, a, b in diffs)
        raise CheckpointError(f"{path}: the configuration differs from the checkpointed run's: {listed} (only "
                              f"{', '.join(RESUMABLE_FIELDS)} may change when resuming)")
    position = Position.parse(record.get("position"), path)
    if config.training.epochs < position.epochs_needed:
        raise CheckpointError(f"{path}: training.epochs = {config.training.epochs}: the checkpointed run has "
                              f"already begun {position.epochs_needed} epochs")


def check_resumable(path: Path, record: dict, config: ExperimentConfig, data_hash: str, metered: bool) -> None:
    """Refuse to resume ``record`` (a checkpoint's state.json) under another config, data or metering
    (``metered``: whether this run keeps the cost meter)."""
    check_config(path, record, config)
    if record.get("data_sha256") != data_hash:
        raise CheckpointError(f"{path}: the data differ from the checkpointed run's (sha256 of the loaded data "
                              "sets does not match); resume with the same data files")
    # a run that asked for the meter but was not costed (passive arrays before they were) kept no meter state
    had = bool(record.get("metered")) and record.get("meter_state") is not None
    if had != metered:
        raise CheckpointError(f"{path}: the checkpointed run had the hardware cost meter "
                              f"{'on' if had else 'off (--no-cost, or not costed)'}; resume it "
                              f"{'without' if had else 'with'} --no-cost")


class RunState:
    """Networks, baselines, generators, meter, history and position of one run of ``config``."""

    def __init__(self, config: ExperimentConfig, train_x: torch.Tensor, n_classes: int, meter: bool) -> None:
        self.config = config
        tcfg, hw = config.training, config.hardware
        self.arch = build_architecture(train_x, n_classes, config.hidden, tcfg)
        self.net = InSituNetwork(self.arch, hw, device=config.device)
        for i, layer in enumerate(self.net.layers):
            layer.randomize(generator(config.seed, f"init.layer{i}", device="cpu"))
        self.write_gens = [generator(config.seed, f"write.layer{i}", device=config.device)
                           for i in range(len(self.net.layers))]
        self.meter = attach_meter(self.net, hw) if meter else None
        self.methods = ["insitu", *config.baselines.methods]
        self.history: dict[str, list[float]] = {m: [] for m in self.methods}
        self.train_hist: dict[str, list[float]] = {m: [] for m in self.methods if m != "exsitu"}
        self.seconds = {m: 0.0 for m in self.methods if m != "exsitu"}
        self.insitu_stats: list[dict] = []
        self.partial: EpochStats | None = None  # stats of a part-done in-situ epoch
        self.position = Position()
        levels = SynapseMapping(1, hw.mapping).levels
        # Software baselines start from shadow weights uniform in [-1, 1] (BinaryConnect's shadow weights
        # must not start saturated at +-1, or no sign can change for many steps); the same start for both.
        shapes = zip(self.arch.sizes[:-1], self.arch.sizes[1:], strict=True)
        shadow = [torch.rand(shape, generator=generator(config.seed, f"init.shadow{i}")) * 2.0 - 1.0
                  for i, shape in enumerate(shapes)]
        dev, rng = torch.device(config.device), hw.converters.input_range
        self.software = {
            "float": SoftwareMLP(self.arch, shadow, rng).to(dev),
            "binary_software": SoftwareMLP(self.arch, shadow, rng, quantizer=levels).to(dev),
        }
        # ex situ: the binary software weights programmed into plain one-weight-per-synapse arrays
        plain = replace(hw, transfer=TransferConfig())
        self.exsitu_net = InSituNetwork(self.arch, plain, device=config.device) if "exsitu" in self.methods else None

    # ------------------------------------------------------------------------------------------- arrays
    def arrays(self) -> dict[str, Crossbar]:
        """Every crossbar by name: ``insitu.layer{i}`` (a transfer layer's buffer; its bit tiles
        ``insitu.layer{i}.bit{m}``) and (with ex-situ) ``exsitu.layer{i}``."""
        out = {}
        for prefix, net in (("insitu", self.net), ("exsitu", self.exsitu_net)):
            for i, layer in enumerate(net.layers if net is not None else []):
                out.update({f"{prefix}.layer{i}" + (f".{name}" if name else ""): xb
                            for name, xb in layer.arrays().items()})
        return out

    def periphery_tensors(self) -> dict[str, torch.Tensor]:
        """Periphery state that is not in the arrays: the column references of one-MTJ transfer buffers."""
        return {f"insitu.layer{i}.reference": layer.reference for i, layer in enumerate(self.net.layers)
                if hasattr(layer, "reference")}

    def final_tensors(self) -> dict[str, torch.Tensor]:
        """Cell states and per-cell parameters of every array and the software weights."""
        out: dict[str, torch.Tensor] = {}
        for name, xb in self.arrays().items():
            out[f"{name}.states"] = xb.parallel
            out.update({f"{name}.params.{p}": v for p, v in xb.params.items()})
        out.update(self.periphery_tensors())
        for method, model in self.software.items():
            out.update({f"{method}.weight{i}": w.detach() for i, w in enumerate(model.weights)})
        return out

    # -------------------------------------------------------------------------------------- checkpoints
    def tensors(self) -> dict[str, torch.Tensor]:
        """:meth:`final_tensors` plus the write generators' states (uint8)."""
        out = self.final_tensors()
        out.update({f"rng.write.layer{i}": g.get_state() for i, g in enumerate(self.write_gens)})
        return out

    def meta(self, seconds: dict[str, float] | None = None) -> dict:
        """The JSON part of a checkpoint (``seconds``: wall-clock totals, default the recorded ones)."""
        partial = None if self.partial is None else asdict(self.partial)
        return {"position": asdict(self.position), "history": self.history, "train_accuracy": self.train_hist,
                "train_seconds": seconds or self.seconds, "insitu_epochs": self.insitu_stats,
                "insitu_partial": partial, "meter_state": None if self.meter is None else self.meter.state_dict(),
                "table_spans": {n: xb.state_dict()["table_spans"] for n, xb in self.arrays().items()}}

    def restore(self, record: dict, tensors: dict[str, torch.Tensor], path: Path, json_path: Path) -> None:
        """Load a checkpoint (``record`` from ``json_path``, ``tensors`` from ``path``) into this fresh state."""
        check_tensors(path, tensors, self.tensors())
        try:
            spans = record["table_spans"]
            for name, xb in self.arrays().items():
                params = {p: tensors[f"{name}.params.{p}"] for p in xb.params}
                xb.load_state_dict({"states": tensors[f"{name}.states"], "params": params,
                                    "table_spans": spans[name]})
            for name, t in self.periphery_tensors().items():
                t.copy_(tensors[name].to(t.device))
            with torch.no_grad():
                for method, model in self.software.items():
                    for i, w in enumerate(model.weights):
                        w.copy_(tensors[f"{method}.weight{i}"].to(w.device))
            for i, g in enumerate(self.write_gens):
                g.set_state(tensors[f"rng.write.layer{i}"])
            self.position = Position.parse(record["position"], json_path)
            self.history = {m: [float(a) for a in record["history"][m]] for m in self.methods}
            self.train_hist = {m: [float(a) for a in record["train_accuracy"][m]] for m in self.train_hist}
            self.seconds = {m: float(record["train_seconds"][m]) for m in self.seconds}
            self.insitu_stats = list(record["insitu_epochs"])
            part = record["insitu_partial"]
            self.partial = None if part is None else EpochStats(**part)
            if self.meter is not None:
                self.meter.load_state_dict(record["meter_state"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"{json_path}: corrupted checkpoint ({type(err).__name__}: {err})") from None
