"""The ``mtjxbar`` command: ``train`` (in-situ MTJ training and its baselines), ``device`` and ``cost``."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
from pathlib import Path

from .. import __version__
from ..config import ConfigError, apply_overrides, replace_path, to_dict
from ..experiments.config import ExperimentConfig, default_run_config, load_config, save_config
from ..experiments.datasets import DATASETS, DataError, load_dataset
from ..experiments.threads import limit_threads, resolve_threads
from . import cost as cost_cli
from . import sweep as sweep_cli
from .array_flags import add_array_arguments, apply_array_flags, check_array_flags, check_not_overridden

__all__ = ["main", "build_parser"]

# flag -> dotted config path (value type is taken from the config field)
TRAIN_FLAGS = {
    "dataset": "data.dataset",
    "data_dir": "data.data_dir",
    "max_train": "data.max_train",
    "max_test": "data.max_test",
    "hidden": "hidden",
    "epochs": "training.epochs",
    "lr": "training.lr",
    "lr_decay": "training.lr_decay",
    "margin": "training.margin",
    "outputs_per_class": "training.outputs_per_class",
    "center_inputs": "training.center_inputs",
    "seed": "seed",
    "device": "device",
    "mtjs_per_synapse": "hardware.mapping.mtjs_per_synapse",
    "scheme": "hardware.mapping.scheme",
    "float_lr": "baselines.float_lr",
    "binary_lr": "baselines.binary_lr",
    "methods": "baselines.methods",
    "counter_bits": "hardware.transfer.counter_bits",
    "buffer_mtjs": "hardware.transfer.buffer_mtjs",
    "transfer_every": "hardware.transfer.samples_per_sweep",
    "carry_overdrive": "hardware.transfer.carry_overdrive",
    "verify_rounds": "hardware.transfer.verify_rounds",
    "r_p": "hardware.device.r_p",
    "tmr0": "hardware.device.tmr0",
    "delta": "hardware.device.delta",
    "ic0_p2ap": "hardware.device.ic0_p2ap",
    "ic0_ap2p": "hardware.device.ic0_ap2p",
    "r_access": "hardware.array.r_access",
    "pulse_width": "hardware.encoder.pulse_width",
    "p_max": "hardware.encoder.p_max",
    "adc_bits": "hardware.converters.adc_bits",
    "dac_bits": "hardware.converters.dac_bits",
}
#: the synapse flags of the independent-flip rule, applied last (on the counters the run ends with)
MAPPING_FLAGS = {flag: TRAIN_FLAGS[flag] for flag in ("mtjs_per_synapse", "scheme")}
CHECKPOINT_EVERY = 10000


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors (a non-number, a choice not offered, a missing value) are one
    line, as the rest of the command's errors are, instead of the whole usage text before the message; the
    subcommands' parsers are of the same class (``add_subparsers`` makes them so)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="mtjxbar", description=__doc__, allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"mtjxbar {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train on a simulated MTJ crossbar and compare with software",
                           allow_abbrev=False,
                           description="Per-sample in-situ training on MTJ crossbars (1T1MTJ or passive), with float, "
                           "software-binary and ex-situ baselines on the same network, data and seed.")
    train.add_argument("--config", type=Path, help="TOML (or JSON) experiment config; flags override it")
    train.add_argument("--out", type=Path, help="output directory (default runs/latest); refused if it holds "
                       "files, unless --overwrite")
    train.add_argument("--overwrite", action="store_true", help="replace the run in an existing --out directory "
                       "(only files its manifest names; the old run goes once the new one has a checkpoint)")
    train.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR from its last "
                       "checkpoint (its config; other settings must match it, except --epochs, which may grow)")
    train.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY, metavar="N",
                       help="checkpoint every N in-situ samples of an epoch (default 10000; 0: only at the end "
                       "of each epoch's in-situ part and of each epoch, which always happens)")
    train.add_argument("--dataset", help=f"one of {', '.join(DATASETS)} (default digits, embedded)")
    train.add_argument("--data-dir", help="directory with MNIST-format IDX files (with --dataset mnist or "
                       "fashion-mnist; stored absolute in the run's config.toml)")
    train.add_argument("--max-train", type=int, help="use only the first N training samples")
    train.add_argument("--max-test", type=int, help="use only the first N test samples")
    train.add_argument("--hidden", type=int, nargs="*", help="hidden layer sizes, e.g. --hidden 256 (--hidden alone: "
                       "a single-layer network)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--lr", type=float, help="in-situ learning rate")
    train.add_argument("--lr-decay", type=float, help="learning-rate factor per epoch")
    train.add_argument("--margin", type=float, help="stop-learning margin on the class scores")
    train.add_argument("--outputs-per-class", type=int, help="output neurons per class")
    train.add_argument("--center-inputs", action=argparse.BooleanOptionalAction,
                       help="subtract the training mean from the inputs (default on; --no-center-inputs: off)")
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="cpu or cuda")
    train.add_argument("--mtjs-per-synapse", "-k", type=int, help="MTJs per synapse (k) of the independent-flip "
                       "rule (with --counter-bits 0)")
    train.add_argument("--scheme", help="reference or differential (with --counter-bits 0)")
    rule = train.add_argument_group("buffer-and-counter synapses (the default run's rule; docs/mnist.md)")
    rule.add_argument("--counter-bits", type=int, metavar="B", help="one-MTJ bit tiles of each synapse's counter "
                      "(default run: 6; 0: the plain independent-flip rule, one or -k MTJs per synapse)")
    rule.add_argument("--buffer-mtjs", type=int, metavar="K", help="MTJs of the fast buffer per synapse (1, or "
                      "an even number; default 2)")
    rule.add_argument("--transfer-every", type=int, metavar="V", help="samples between two transfers of the "
                      "same column (default 64)")
    rule.add_argument("--carry-overdrive", type=float, metavar="X", help="current of the transfers' counter and "
                      "buffer-reset pulses in units of Ic0 (default 1.2; on passive arrays the other cells see a "
                      "third of its voltage (V/3, reversed on the unselected ones) or half of it (V/2, on the "
                      "half-selected ones), and at delta 40 some switch: docs/passive.md)")
    rule.add_argument("--verify-rounds", type=int, metavar="N", help="read-verify-rewrite rounds after a transfer's "
                      "write (default 2; 0: unverified)")
    train.add_argument("--float-lr", type=float, help="learning rate of the float baseline")
    train.add_argument("--binary-lr", type=float, help="learning rate of the BinaryConnect baseline")
    train.add_argument("--methods", nargs="+", help="baselines: float binary_software exsitu")
    group = train.add_argument_group("device and circuit (SI units)")
    group.add_argument("--r-p", type=float, help="parallel resistance, ohm")
    group.add_argument("--tmr0", type=float, help="zero-bias TMR ratio (1.24 = 124 %%)")
    group.add_argument("--delta", type=float, help="thermal stability factor")
    group.add_argument("--ic0-p2ap", type=float, help="critical current P->AP, A")
    group.add_argument("--ic0-ap2p", type=float, help="critical current AP->P, A")
    group.add_argument("--r-access", type=float, help="access transistor on-resistance, ohm")
    group.add_argument("--pulse-width", type=float, help="longest write pulse, s")
    group.add_argument("--p-max", type=float, help="largest switching probability asked of a cell")
    group.add_argument("--adc-bits", type=int, help="ADC resolution (default ideal)")
    group.add_argument("--dac-bits", type=int, help="DAC resolution (default ideal)")
    add_array_arguments(group, "array kind: 1t1mtj (default, access transistor per cell) or passive (0T1MTJ: "
                        "sneak paths, half-select writes)")
    train.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                       help="set any config field, e.g. --set hardware.device.v_h=0.4 (repeatable)")
    train.add_argument("--quiet", action="store_true", help="no progress lines")
    train.add_argument("--no-cost", action="store_true", help="skip the hardware cost accounting "
                       "(results.json then has no 'hardware'; training skips the meter's bookkeeping: "
                       "docs/speed.md)")
    train.add_argument("--threads", type=int, help="torch, Numba and BLAS CPU threads (default 1: per-sample "
                       "training gains nothing from more and is many times slower with them on a busy machine; "
                       "passive arrays solve their tiles in parallel on up to N; at most the cores there are)")

    device = sub.add_parser("device", help="print the MTJ's key figures; --plot draws switching curves",
                            allow_abbrev=False)
    device.add_argument("--config", type=Path, help="experiment config whose hardware.device to show")
    device.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a device field, e.g. --set delta=60")
    device.add_argument("--plot", type=Path, help="write switching probability vs current to this PNG")
    device.add_argument("--json", action="store_true", help="print the figures as JSON")
    cost_cli.add_parser(sub)
    sweep_cli.add_parser(sub)
    parser.commands = sub.choices  # name -> its parser, for errors about a command's own arguments
    return parser


def _train_config(args: argparse.Namespace, base: ExperimentConfig | None = None) -> ExperimentConfig:
    """The config of a run: ``--config`` (else ``base``, else the defaults), then the flags and ``--set``, then
    ``-k`` / ``--scheme`` on the counters the run ends with (:func:`_apply_mapping_flags`)."""
    config = load_config(args.config) if args.config else (base or default_run_config())
    for flag, path in TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None and flag not in MAPPING_FLAGS:
            if isinstance(value, list):
                value = tuple(value)
            config = replace_path(config, path, value)
    config = apply_array_flags(config, args)
    config = apply_overrides(config, args.set, example="hardware.device.delta=45")
    check_array_flags(config, args)  # after --set, which may set the array kind
    config = _apply_mapping_flags(config, args)
    rule = [f for f in ("buffer_mtjs", "transfer_every", "carry_overdrive", "verify_rounds")
            if getattr(args, f) is not None]
    if rule and not config.hardware.transfer.enabled:  # after --set, which may turn the counters on or off
        flags = ", ".join("--" + f.replace("_", "-") for f in rule)
        raise ConfigError(f"{flags}: sets the buffer-and-counter synapse, but this run uses the independent-flip "
                          "rule (hardware.transfer.counter_bits = 0); leave it out or set --counter-bits B")
    if base is None and config.data.data_dir is not None:  # a new run: its config.toml reruns from anywhere
        absolute = os.path.abspath(os.path.expanduser(config.data.data_dir))
        config = replace_path(config, "data.data_dir", absolute)
    return config


def _set_touches(items: list[str], path: str) -> bool:
    """Whether a ``--set`` item sets ``path``, itself or a table above it (``hardware.transfer={...}``)."""
    return any(path == p or path.startswith(p + ".") for p in (i.partition("=")[0].strip() for i in items))


def _apply_mapping_flags(config: ExperimentConfig, args: argparse.Namespace) -> ExperimentConfig:
    """``-k`` / ``--scheme`` on the config as the other flags and ``--set`` left it: they go with the
    independent-flip rule, so they are refused on a run whose counters are on in the end (wherever that came
    from: the config, ``--counter-bits`` or ``--set``); a flag whose field ``--set`` sets to another value is
    refused by name, as the array flags are (:func:`~.array_flags.check_array_flags`)."""
    given = [f for f in MAPPING_FLAGS if getattr(args, f) is not None]
    if not given:
        return config
    bits = config.hardware.transfer.counter_bits
    if bits > 0:
        flags = ", ".join("-k" if f == "mtjs_per_synapse" else "--scheme" for f in given)
        if _set_touches(args.set, "hardware.transfer.counter_bits"):
            source, advice = "from --set", "set it to 0 there"
        else:
            source = "from --counter-bits" if args.counter_bits is not None else "the config's"
            advice = "add --counter-bits 0"
        raise ConfigError(f"{flags}: sets the synapse of the independent-flip rule, but this run uses buffer-and-"
                          f"counter synapses (hardware.transfer.counter_bits = {bits}, {source}); {advice} to train "
                          "with k MTJs per synapse")
    for flag in given:
        path, value = MAPPING_FLAGS[flag], getattr(args, flag)
        if _set_touches(args.set, path):  # --set is applied last everywhere: it must not be undone here
            check_not_overridden(config, path, "-k" if flag == "mtjs_per_synapse" else "--scheme", value)
        else:
            config = replace_path(config, path, value)
    return config


def _resume_config(args: argparse.Namespace, out: Path) -> ExperimentConfig:
    """The config to resume ``out`` with: the checkpoint's, overridden by any flags, checked against it."""
    from ..config import from_dict
    from ..experiments.checkpoint import Checkpoint
    from ..experiments.state import check_config

    ckpt = Checkpoint(out)
    record = ckpt.load_meta()
    try:
        stored = from_dict(ExperimentConfig, record["config"])
    except ConfigError as err:
        raise ConfigError(f"{ckpt.json_path}: config: {err}") from None
    config = _train_config(args, base=stored)
    check_config(ckpt.json_path, record, config)
    _check_saved_config(out / "config.toml", record["config"], config)
    if record.get("version") != __version__:
        print(f"mtjxbar: note: the checkpoint was written by mtjxbar {record.get('version')}, this is "
              f"{__version__}; the resumed run may differ from an uninterrupted one", file=sys.stderr)
    return config


def _check_saved_config(path: Path, stored: dict, config: ExperimentConfig) -> None:
    """Refuse to resume when the run's ``config.toml`` was edited: a field that differs both from the
    checkpointed config (``stored``) and from the one the resumed run will use (the edit would be lost)."""
    from ..experiments.checkpoint import config_diff

    if not path.is_file():
        return
    saved = to_dict(load_config(path))
    asked = {p for p, _, _ in config_diff(saved, to_dict(config))}
    edited = [(p, a, b) for p, a, b in config_diff(stored, saved) if p in asked]
    if edited:
        listed = "; ".join(f"{p}: {a!r} in the checkpoint, {b!r} in config.toml" for p, a, b in edited)
        raise ConfigError(f"{path}: edited since the run wrote it ({listed}); --resume continues the checkpointed "
                          "configuration and would lose the edit: undo it (more epochs: --epochs), or start a new "
                          f"run from it with --config {path} --out NEW_DIR")


def resume_command(args: argparse.Namespace, out: Path) -> str:
    """The command that continues this run from its checkpoint (the settings the checkpoint does not hold)."""
    parts = ["mtjxbar", "train", "--resume", str(out)]
    if args.no_cost:
        parts.append("--no-cost")
    if args.threads is not None:
        parts += ["--threads", str(args.threads)]
    if args.checkpoint_every != CHECKPOINT_EVERY:
        parts += ["--checkpoint-every", str(args.checkpoint_every)]
    if args.resume is not None and args.epochs is not None:
        parts += ["--epochs", str(args.epochs)]
    if args.quiet:
        parts.append("--quiet")
    return shlex.join(parts)


def _check_resources(config: ExperimentConfig, data) -> None:
    """Refuse, before anything is written, a CUDA run without a GPU, writes the drivers can never make switch
    and a network that cannot fit in memory."""
    from ..experiments.memory import check_memory, train_estimate
    from ..periphery.encoder import check_drivers

    check_drivers(config.hardware)

    if config.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("device = 'cuda' (--device cuda): no CUDA device is available here; use --device cpu")
    need, what = train_estimate(config, int(data.train_x.shape[1]), int(data.n_classes))
    network = "-".join(str(s) for s in (data.train_x.shape[1], *config.hidden,
                                        data.n_classes * config.training.outputs_per_class))
    check_memory(need, what, f"network {network}", device=config.device)


def _cmd_train(args: argparse.Namespace) -> int:
    from ..experiments.files import RunDirectory, atomic_path
    from ..experiments.progress import ProgressPrinter, StopRequest
    from ..experiments.runner import not_costed, run_experiment, write_results
    from ..plots.history import plot_history

    threads, note = resolve_threads(args.threads)
    if args.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every {args.checkpoint_every}: must be >= 0 (0: only at epoch ends)")
    resume = args.resume is not None
    rundir: RunDirectory | None = None
    try:  # everything is checked before the output directory is touched (a resumed run's is locked first)
        if resume:
            out: Path = args.resume
            if args.out is not None and args.out.resolve() != out.resolve():
                raise ConfigError(f"--out {args.out} and --resume {out}: a resumed run writes into the directory "
                                  "it resumes; drop --out")
            if args.overwrite:
                raise ConfigError("--overwrite and --resume: choose one (replace the run, or continue it)")
            rundir = RunDirectory(out).open(resume=True)
            config = _resume_config(args, out)
        else:
            out = args.out if args.out is not None else Path("runs/latest")
            config = _train_config(args)
        d = config.data
        data = load_dataset(d.dataset, d.data_dir, max_train=d.max_train, max_test=d.max_test)
        _check_resources(config, data)
        if resume:
            rundir.claim()
        else:
            rundir = RunDirectory(out).open(overwrite=args.overwrite)
    except BaseException:
        if rundir is not None:
            rundir.close()
        raise
    for line in ([note] if note else []) + rundir.notes:
        print(f"mtjxbar: note: {line}", file=sys.stderr)
    with rundir:  # an error before the new run's first checkpoint puts back what it replaced
        blas = limit_threads(threads)  # torch, Numba (passive tile solves) and BLAS
        try:
            with StopRequest() as stop:
                with atomic_path(out, "config.toml") as tmp:
                    save_config(config, tmp)
                why_not = not_costed(config)
                if why_not and not args.no_cost:
                    print(f"mtjxbar: note: {why_not} (results.json's hardware block says \"modelled\": false)",
                          file=sys.stderr)
                if stop():
                    raise KeyboardInterrupt
                results = run_experiment(config, ProgressPrinter(quiet=args.quiet), data=data,
                                         meter=not args.no_cost, out_dir=out, checkpoint_every=args.checkpoint_every,
                                         resume=resume, interrupt=stop, on_checkpoint=rundir.commit)
            rundir.commit()
        finally:
            blas.restore_original_limits()
        path = write_results(results, out)
        with atomic_path(out, "accuracy.png") as tmp:
            plot_history(results, tmp)
    _print_table(results)
    print(f"results: {path}\nplot:    {out / 'accuracy.png'}\nconfig:  {out / 'config.toml'}\n"
          f"states:  {out / 'final_states.safetensors'}")
    return 0


def _print_table(results: dict) -> None:
    from ..plots.history import network_label

    names = {"insitu": "in-situ MTJ", "float": "float (software)", "binary_software": "binary (software)",
             "exsitu": "ex-situ (programmed)"}
    secs = results["train_seconds"]
    print(f"\n{results['dataset']}, {network_label(results)}, {results['epochs']} epochs, seed {results['seed']}")
    print(f"{'method':<22}{'test accuracy':>14}{'train time':>12}")
    for key, acc in results["accuracy"].items():
        t = f"{secs[key]:.1f} s" if key in secs else "-"
        print(f"{names.get(key, key):<22}{acc * 100:>13.2f}%{t:>12}")
    engines = sorted({e.get("engine", "eager") for e in results.get("insitu_epochs", [])})
    if engines == ["eager"]:
        print("in-situ loop: eager (the fused loop covers 1T1MTJ arrays on the CPU; metered runs with per-cell "
              "parameters or a two-bias transfer sense also take the eager loop: docs/speed.md)")
    elif engines:
        print(f"in-situ loop: {', '.join(engines)}")


def _cmd_device(args: argparse.Namespace) -> int:
    from ..device import MTJParams
    from ..device.figures import device_figures

    params = load_config(args.config).hardware.device if args.config else MTJParams()
    params = apply_overrides(params, args.set, strip_prefix="hardware.device.")
    figures = device_figures(params)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:<40} {value:.6g}" if isinstance(value, float) else f"{key:<40} {value}")
    if args.plot:
        from ..plots.device_curves import plot_switching_curves

        plot_switching_curves(params, args.plot, direction="both")
        print(f"plot: {args.plot}")
    return 0


def _interrupted(args: argparse.Namespace, err: KeyboardInterrupt) -> int:
    """Say where an interrupted command stopped and how to continue; the exit status (128 + the signal)."""
    from ..experiments.progress import Interrupted

    signum = err.signum if isinstance(err, Interrupted) and err.signum else signal.SIGINT
    name = signal.Signals(signum).name
    if args.command != "train":
        print(f"mtjxbar: interrupted ({name})", file=sys.stderr)
        return 128 + signum
    out = args.resume or args.out or Path("runs/latest")
    if isinstance(err, Interrupted) and err.saved:
        what = f"stopped ({name}) at {err.where}, checkpoint saved"
    else:
        what = f"interrupted ({name})"
    if (out / "checkpoint" / "state.json").exists():
        print(f"mtjxbar: {what}; continue with: {resume_command(args, out)}", file=sys.stderr)
    else:
        print(f"mtjxbar: {what}; no checkpoint was written, nothing to continue", file=sys.stderr)
    return 128 + signum


def _run_command(args: argparse.Namespace) -> int:
    if args.command == "train":
        return _cmd_train(args)
    if args.command == "cost":
        return cost_cli.run(args)
    if args.command in sweep_cli.COMMANDS:
        return sweep_cli.run(args)
    return _cmd_device(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the parser they were given to, which points at its own --help
        words = list(sys.argv[1:] if argv is None else argv)
        before = args.command in words and any(w in words[:words.index(args.command)] for w in extra)
        (parser if before else parser.commands[args.command]).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code = _run_command(args)
        sys.stdout.flush()  # a buffered pipe is written here, inside the try (a closed one: below)
        return code
    except (ConfigError, DataError, ValueError, MemoryError) as err:
        print(f"mtjxbar: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`mtjxbar cost ... | head`): no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor at exit, flushing stdout
        return 141
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"mtjxbar: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        return _interrupted(args, err)


if __name__ == "__main__":
    sys.exit(main())
