"""One experiment: in-situ MTJ training and the software baselines on the same data, net, epochs, seed."""

from __future__ import annotations

import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .. import __version__
from ..config import to_dict
from ..device import switching_probability
from ..hardware import check_costed
from ..nn import manufacture_layers
from ..periphery.encoder import check_drivers
from ..rng import generator
from ..training import EpochStats, evaluate, train_insitu, train_software_epoch
from .checkpoint import Checkpoint, config_sha256, save_tensors
from .config import ExperimentConfig
from .datasets import Dataset, load_dataset
from .files import write_json
from .progress import Interrupted, ProgressPrinter
from .state import Position, RunState, check_resumable, data_sha256

__all__ = ["run_experiment", "epoch_order", "write_results", "not_costed", "config_warnings"]


def not_costed(config: ExperimentConfig) -> str | None:
    """Why the cost model does not describe ``config``'s hardware (:func:`mtjxbar.hardware.check_costed`:
    e.g. transfer layers on passive arrays), or None: it does (1T1MTJ and plain passive arrays)."""
    try:
        check_costed(config.hardware)
    except ValueError as err:
        return f"not costed: {err}"
    return None


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The training-sample order of one epoch (the same for every method)."""
    return torch.randperm(n, generator=generator(seed, f"data.order.epoch{epoch}"))


def _load(config: ExperimentConfig) -> Dataset:
    d = config.data
    return load_dataset(d.dataset, d.data_dir, max_train=d.max_train, max_test=d.max_test)


def run_experiment(config: ExperimentConfig, progress: ProgressPrinter | None = None,
                   data: Dataset | None = None, meter: bool = True, *, out_dir: Path | None = None,
                   checkpoint_every: int = 0, resume: bool = False, interrupt: Callable[[], bool] | None = None,
                   on_checkpoint: Callable[[], None] | None = None) -> dict:
    """Train every method of ``config`` and return the results record (docs/commands.md lists its keys).

    With ``meter`` (and hardware the cost model describes, :func:`not_costed`; otherwise the record's
    ``"hardware"`` says why, with ``"modelled": false``) the in-situ arrays report their events to the cost model
    (``mtjxbar.hardware``; the fused loop reports the same figures from its kernel's sums) and the record
    gets the hardware totals under ``"hardware"``. ``"engine"`` says which in-situ loop ran: ``"fused"``
    or ``"eager"`` (``"mixed"`` if the epochs differ, e.g. a run resumed under another engine choice).

    With ``out_dir`` the run checkpoints into ``out_dir/checkpoint`` (:mod:`.checkpoint`) after every
    ``checkpoint_every`` in-situ samples of an epoch (0: never mid-epoch), after the in-situ part of each
    epoch and at the end of each epoch, and writes the final cell states and software weights to
    ``out_dir/final_states.safetensors``. With ``resume`` it continues from that checkpoint instead of
    starting afresh; the config may differ only in ``training.epochs`` (see :func:`.state.check_resumable`).
    On CPU a resumed run ends bit for bit where the uninterrupted one does (wall-clock times aside).

    ``interrupt`` (e.g. a :class:`.progress.StopRequest`) is asked after every in-situ sample of the eager
    loop, at every chunk boundary of the fused loop (every 100 samples, :func:`_stop_every`) and at the
    baselines' progress reports; once it says yes the run checkpoints there (in an in-situ part: the sample
    it stopped at; in a baseline part its last checkpoint, after the in-situ part, stands) and raises
    :class:`.progress.Interrupted`. ``on_checkpoint`` is called after every checkpoint written.
    """
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device = 'cuda': no CUDA device is available here; use --device cpu")
    if checkpoint_every < 0:
        raise ValueError(f"checkpoint_every = {checkpoint_every}: must be >= 0")
    if resume and out_dir is None:
        raise ValueError("resume needs the run's out_dir")
    progress = progress or ProgressPrinter(quiet=True)
    check_drivers(config.hardware)  # writes that can never switch, pulses the drivers cannot deliver
    why_not = not_costed(config)
    metered, meter = meter, meter and why_not is None
    data = data or _load(config)
    dev = torch.device(config.device)
    train_x, train_y = data.train_x.to(dev), data.train_y.to(dev)
    test_x, test_y = data.test_x.to(dev), data.test_y.to(dev)
    tcfg = config.training
    state = RunState(config, train_x, data.n_classes, meter)
    _manufacture(state)
    for layer in state.net.layers:  # write currents clipped to what the drivers deliver (1T1MTJ)
        layer.encoder.limit_currents(config.hardware.array)
    ckpt = Checkpoint(Path(out_dir)) if out_dir is not None else None
    data_hash = data_sha256(data) if ckpt is not None else ""
    if ckpt is not None and resume:
        record, tensors = ckpt.load()
        check_resumable(ckpt.json_path, record, config, data_hash, meter)
        state.restore(record, tensors, ckpt.directory / record["tensors"], ckpt.json_path)
        pos = state.position
        where = f"epoch {pos.epoch + 1}, sample {pos.sample}" if pos.phase == "insitu" else \
            f"epoch {pos.epoch + 1}, after its in-situ part"
        progress.start("resume")
        if pos.epoch >= tcfg.epochs:  # nothing left: the results are written again from the checkpoint
            progress.finish(f"the run has finished its {tcfg.epochs} epochs; nothing to train (a larger --epochs "
                            "continues it)")
        else:
            progress.finish(f"continuing from the checkpoint at {where}")

    def save(extra: dict[str, float] | None = None) -> bool:
        if ckpt is None:
            return False
        seconds = {m: s + (extra or {}).get(m, 0.0) for m, s in state.seconds.items()}
        meta = {"config": to_dict(config), "config_sha256": config_sha256(to_dict(config)),
                "data_sha256": data_hash, "metered": meter, **state.meta(seconds)}
        ckpt.save(meta, state.tensors())
        if on_checkpoint is not None:
            on_checkpoint()
        return True

    n_train = len(train_x)
    for line in config_warnings(config, n_train):
        print(f"mtjxbar: warning: {line}", file=sys.stderr)
    for epoch in range(state.position.epoch, tcfg.epochs):
        order = epoch_order(config.seed, epoch, n_train).to(dev)
        tag = f"epoch {epoch + 1}/{tcfg.epochs}"
        if state.position.phase == "insitu":
            _insitu_phase(state, epoch, order, tag, train_x, train_y, test_x, test_y, progress, save,
                          checkpoint_every, interrupt)
            save()
        _baseline_phase(state, epoch, order, tag, train_x, train_y, test_x, test_y, progress,
                        _asked(interrupt, ckpt is not None, f"epoch {epoch + 1}, after its in-situ part"))
        state.position = Position(epoch + 1, "insitu", 0)
        save()
    if ckpt is not None:
        save_tensors(ckpt.root, "final_states.safetensors", state.final_tensors(), {"format": "mtjxbar-final-states"})
    return _results(state, data, n_train, len(test_x), metered)


def config_warnings(config: ExperimentConfig, n_train: int) -> list[str]:
    """What makes ``config`` physically doubtful though it runs (one line each): a retention time
    ``tau0 exp(Delta)`` shorter than the run (at least one write pulse per training sample: the stored
    weights would decay while they train; retention flips are not simulated), and devices a write cannot
    switch on purpose (a cell already switches with ``p_max`` or more in one pulse with no current at all,
    so the encoder asks for no current and nothing is written: ``--delta 1`` trains at chance)."""
    dev, enc = config.hardware.device, config.hardware.encoder
    out = []
    run = config.training.epochs * n_train * enc.pulse_width
    tau = min(dev.tau0_p2ap, dev.tau0_ap2p) * math.exp(min(dev.delta, 700.0))
    if tau < run:
        out.append(f"hardware.device.delta = {dev.delta:g}: retention tau0 exp(delta) = {tau:.3g} s is shorter than "
                   f"the run ({config.training.epochs} epochs x {n_train} samples x a {enc.pulse_width:.3g} s pulse "
                   f"= {run:.3g} s at least): the weights would not hold what they learn (retention flips are not "
                   "simulated)")
    if enc.scheme == "current":
        for direction in ("ap2p", "p2ap"):
            p = float(switching_probability(torch.tensor(0.0, dtype=torch.float64), enc.pulse_width,
                                            **dev.switching(direction)))
            if p >= enc.p_max:
                out.append(f"hardware.device.delta = {dev.delta:g}: a cell switches ({direction}) with probability "
                           f"{p:.3g} in a {enc.pulse_width:.3g} s pulse with no current at all, at or above "
                           f"encoder.p_max = {enc.p_max:g}: the encoder asks for no current and no write switches "
                           "a cell on purpose")
                break
    return out


def _manufacture(state: RunState) -> None:
    """Variation and faults (``hardware.variation``): the in-situ and the ex-situ network get the same chip,
    drawn from the run's seed (before a checkpoint is restored: the masks are derived, not stored)."""
    for net in (state.net, state.exsitu_net):
        if net is not None:
            manufacture_layers(net.layers, state.config.seed)


def _asked(interrupt: Callable[[], bool] | None, saved: bool, where: str) -> Callable[[], None]:
    """A check that raises :class:`.progress.Interrupted` once ``interrupt`` says stop."""
    def check() -> None:
        if interrupt is not None and interrupt():
            raise Interrupted(getattr(interrupt, "signum", None), saved, where)
    return check


def _insitu_phase(state: RunState, epoch: int, order: torch.Tensor, tag: str, train_x, train_y, test_x, test_y,
                  progress: ProgressPrinter, save: Callable, every: int,
                  interrupt: Callable[[], bool] | None = None) -> None:
    """The in-situ part of one epoch (or its rest, after a resume), then its test evaluation."""
    tcfg, net = state.config.training, state.net
    start = state.position.sample
    progress.start(f"{tag} insitu", done=start)
    t0 = time.perf_counter()

    partial = state.partial if state.partial is not None else EpochStats(flips_per_layer=[0] * len(net.layers))
    clipped = sum(layer.encoder.clipped for layer in net.layers)

    def checkpoint(done: int, stats: EpochStats) -> None:  # called every ``calls`` samples
        asked = interrupt is not None and interrupt()
        if not asked and not (every > 0 and done % every == 0):
            return
        state.position, state.partial = Position(epoch, "insitu", done), stats
        saved = save({"insitu": time.perf_counter() - t0})
        _asked(interrupt, saved, f"epoch {epoch + 1}, sample {done}")()

    def update(done: int, total: int) -> None:  # also a sample boundary: a stop asked is honoured here
        progress.update(done, total)
        if interrupt is not None and interrupt() and done < total:
            checkpoint(done, partial)

    # the same boundaries with or without a stop hook: the fused loop's chunks (and the meter's sums over
    # them) then fall alike in a run and in its resumption
    calls = _stop_every(state, every)

    def train() -> EpochStats:
        return train_insitu(net, train_x, train_y, tcfg, epoch, order, state.write_gens, update,
                            start=start, stats=partial, checkpoint=checkpoint, checkpoint_every=calls)

    if state.meter is not None:
        with state.meter.epoch():
            stats = train()
    else:
        stats = train()
    state.seconds["insitu"] += time.perf_counter() - t0
    state.partial = None
    state.history["insitu"].append(evaluate(net.predict, test_x, test_y, tcfg.eval_batch))
    state.train_hist["insitu"].append(stats.train_accuracy)
    samples = max(len(order), 1)
    state.insitu_stats.append({"engine": stats.engine, "updates": stats.updates, "flips": stats.flips,
                               "phases": stats.phases,
                               "flips_per_layer": stats.flips_per_layer,
                               "intended_flips": stats.flips - stats.disturb_flips,
                               "disturb_flips": stats.disturb_flips,
                               "disturb_flips_per_sample": stats.disturb_flips / samples,
                               # column currents clipped to the drive limits (this process's samples)
                               "clipped_currents": sum(layer.encoder.clipped for layer in net.layers) - clipped,
                               **({"transfer": dict(stats.transfer)} if stats.transfer else {})})
    state.position = Position(epoch, "baselines", 0)
    disturbs = f" ({stats.disturb_flips:,} disturb, {stats.disturb_flips / samples:.3g}/sample)" \
        if _passive(state) else ""
    if _passive(state) and stats.transfer:  # the transfers' own writes disturb too (counted apart)
        carried = stats.transfer.get("disturbs", 0)
        disturbs += f"; transfers: {stats.transfer.get('flips', 0):,} flips ({carried:,} disturb, " \
                    f"{carried / samples:.3g}/sample)"
    progress.finish(f"test {state.history['insitu'][-1]:.4f}, train {stats.train_accuracy:.4f}, "
                    f"{stats.flips:,} flips{disturbs}")


#: the fused loop asks for a stop every this many samples (a chunk boundary; the eager loop after every sample)
STOP_EVERY_FUSED = 100


def _stop_every(state: RunState, every: int) -> int:
    """How often (samples) the in-situ loop hands the runner a sample boundary, where a stop asked is honoured
    (checkpoint there, then :class:`.progress.Interrupted`) and every ``every``-th a checkpoint is written:
    after every sample in the eager loop; in the fused loop at chunk boundaries every
    :data:`STOP_EVERY_FUSED` samples (a divisor of ``every``, so checkpoints land where they did; where only
    a small one exists, the checkpoints and progress reports every 500 samples)."""
    tcfg = state.config.training
    fused = False
    if tcfg.engine != "eager":
        try:
            from ..training.fused import unsupported
        except ImportError:  # numba missing: the eager loop runs
            unsupported = None
        fused = unsupported is not None and unsupported(state.net) is None
    step = STOP_EVERY_FUSED if fused else 1
    calls = math.gcd(every, step) if every > 0 else step
    return every if fused and calls < 10 else calls


def _passive(state: RunState) -> bool:
    """Whether the run's arrays are passive (their writes can disturb half-selected cells)."""
    return state.config.hardware.array.kind == "passive"


def _baseline_phase(state: RunState, epoch: int, order: torch.Tensor, tag: str, train_x, train_y, test_x, test_y,
                    progress: ProgressPrinter, stop: Callable[[], None] = lambda: None) -> None:
    """The software baselines of one epoch over the same order, then the ex-situ programming."""
    config, tcfg = state.config, state.config.training
    for name, lr, clip in (("float", config.baselines.float_lr, False),
                           ("binary_software", config.baselines.binary_lr, True)):
        if name not in state.methods:
            continue
        progress.start(f"{tag} {name}")
        t0 = time.perf_counter()
        model = state.software[name]
        def update(done: int, total: int) -> None:
            progress.update(done, total)
            stop()

        acc = train_software_epoch(model, train_x, train_y, order, lr * tcfg.lr_decay**epoch, clip, update)
        state.seconds[name] += time.perf_counter() - t0
        state.history[name].append(evaluate(model.predict, test_x, test_y, tcfg.eval_batch))
        state.train_hist[name].append(acc)
        progress.finish(f"test {state.history[name][-1]:.4f}, train {acc:.4f}")
    if state.exsitu_net is not None:
        weights = state.software["binary_software"].quantized_weights()
        for layer, w in zip(state.exsitu_net.layers, weights, strict=True):
            layer.program(w)
        state.history["exsitu"].append(evaluate(state.exsitu_net.predict, test_x, test_y, tcfg.eval_batch))
        progress.start(f"{tag} exsitu")
        progress.finish(f"test {state.history['exsitu'][-1]:.4f} (binary_software weights programmed)")


def _results(state: RunState, data: Dataset, n_train: int, n_test: int, metered: bool = False) -> dict:
    config, tcfg, arch = state.config, state.config.training, state.arch
    results = {
        "dataset": data.name,
        "seed": config.seed,
        "epochs": tcfg.epochs,
        "hidden": list(config.hidden),
        "sizes": list(arch.sizes),
        "gains": list(arch.gains),
        "config": to_dict(config),
        "accuracy": {m: h[-1] for m, h in state.history.items()},
        "history": state.history,
        "train_accuracy": state.train_hist,
        "train_seconds": state.seconds,
        "samples_per_second": {m: tcfg.epochs * n_train / s for m, s in state.seconds.items() if s > 0},
        "insitu_epochs": state.insitu_stats,
        "n_train": n_train,
        "n_test": n_test,
        "version": __version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    engines = sorted({e["engine"] for e in state.insitu_stats})
    results["engine"] = engines[0] if len(engines) == 1 else "mixed" if engines else None
    if state.meter is not None:
        results["hardware"] = {**state.meter.summary(), "engine": results["engine"]}
    elif metered:
        results["hardware"] = {"modelled": False, "array": config.hardware.array.kind, "note": not_costed(config)}
    return results


def write_results(results: dict, out_dir: Path) -> Path:
    """Write ``results.json`` atomically (temporary file, fsync, rename) and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_json(out_dir, "results.json", results)
