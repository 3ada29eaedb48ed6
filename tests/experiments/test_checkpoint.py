"""Checkpoints: a run resumed from any checkpoint ends bit for bit where the uninterrupted run ends, and
every damaged, foreign or mismatched checkpoint file is refused with a one-line error naming the file."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from mtjxbar.config import replace_path
from mtjxbar.crossbar import Crossbar
from mtjxbar.device import MTJParams
from mtjxbar.experiments.checkpoint import (
    Checkpoint,
    CheckpointError,
    _canonical,
    config_diff,
    config_sha256,
    load_tensors,
    save_tensors,
)
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.progress import ProgressPrinter
from mtjxbar.experiments.runner import run_experiment

WALL_CLOCK = ("train_seconds", "samples_per_second")


def _config(epochs: int = 2) -> ExperimentConfig:
    config = ExperimentConfig()
    for path, value in [("hidden", (8,)), ("training.epochs", epochs), ("data.max_train", 120),
                        ("data.max_test", 60)]:
        config = replace_path(config, path, value)
    return config


@pytest.fixture(scope="module")
def data():
    return load_dataset("digits", max_train=120, max_test=60)


def _same(a: dict, b: dict) -> bool:
    return {k: v for k, v in a.items() if k not in WALL_CLOCK} == {k: v for k, v in b.items() if k not in WALL_CLOCK}


def _states(out: Path) -> dict[str, torch.Tensor]:
    return load_tensors(out / "final_states.safetensors")[0]


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """An uninterrupted run that keeps a copy of the checkpoint folder after every save."""
    out = tmp_path_factory.mktemp("full")
    snaps = tmp_path_factory.mktemp("snaps")
    saved = []
    original = Checkpoint.save

    def save(self, meta, tensors):
        original(self, meta, tensors)
        dest = snaps / f"{len(saved):03d}"
        shutil.copytree(self.directory, dest / "checkpoint")
        saved.append((dest, meta["position"]))

    Checkpoint.save = save
    try:
        results = run_experiment(_config(), data=data, out_dir=out, checkpoint_every=40)
    finally:
        Checkpoint.save = original
    return results, _states(out), saved


def test_checkpoints_at_interval_after_insitu_and_at_epoch_ends(reference):
    positions = [(p["epoch"], p["phase"], p["sample"]) for _, p in reference[2]]
    assert positions == [(0, "insitu", 40), (0, "insitu", 80), (0, "baselines", 0), (1, "insitu", 0),
                         (1, "insitu", 40), (1, "insitu", 80), (1, "baselines", 0), (2, "insitu", 0)]


@pytest.mark.parametrize("which", [0, 2, 3, 5])  # mid-epoch, after in-situ, epoch end, mid second epoch
def test_resume_from_any_checkpoint_is_bit_for_bit(reference, data, tmp_path, which):
    results, states, saved = reference
    snap, _ = saved[which]
    out = tmp_path / "run"
    shutil.copytree(snap, out)
    resumed = run_experiment(_config(), data=data, out_dir=out, checkpoint_every=40, resume=True)
    assert _same(resumed, results)
    assert resumed["hardware"] == results["hardware"]
    assert _states_equal(_states(out), states)


def test_more_epochs_extend_a_finished_run(reference, data, tmp_path):
    one = tmp_path / "one"
    run_experiment(_config(epochs=1), data=data, out_dir=one)
    extended = run_experiment(_config(epochs=2), data=data, out_dir=one, resume=True)
    assert _same(extended, reference[0])
    assert _states_equal(_states(one), reference[1])


def test_resume_refuses_other_config_data_meter_and_fewer_epochs(reference, data, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reference[2][3][0], out)  # after epoch 1
    other = replace_path(replace_path(_config(), "training.lr", 0.1), "hardware.device.ic0_p2ap", 7e-5)
    with pytest.raises(CheckpointError) as err:
        run_experiment(other, data=data, out_dir=out, resume=True)
    msg = str(err.value)
    assert "state.json" in msg and "training.lr: 0.3 in the checkpoint, 0.1 asked" in msg
    assert "hardware.device.ic0_p2ap" in msg
    small = dataclasses.replace(data, train_x=data.train_x * 0.5)
    with pytest.raises(CheckpointError, match="the data differ"):
        run_experiment(_config(), data=small, out_dir=out, resume=True)
    with pytest.raises(CheckpointError, match="--no-cost"):
        run_experiment(_config(), data=data, out_dir=out, resume=True, meter=False)
    shutil.rmtree(out)
    shutil.copytree(reference[2][5][0], out)  # mid epoch 2
    with pytest.raises(CheckpointError, match="already begun 2 epochs"):
        run_experiment(_config(epochs=1), data=data, out_dir=out, resume=True)


def _drop_array_field(run: Path, name: str) -> None:
    """Rewrite ``run``'s checkpoint as a version without ``hardware.array.<name>`` would have written it."""
    state = run / "checkpoint" / "state.json"
    record = json.loads(state.read_text())
    del record["checksum"], record["config"]["hardware"]["array"][name]
    record["config_sha256"] = config_sha256(record["config"])
    record["checksum"] = hashlib.sha256(_canonical(record)).hexdigest()
    state.write_text(json.dumps(record))


def test_a_field_added_since_the_checkpoint_takes_its_default(reference, data, tmp_path):
    """A checkpoint written before write_compensation_model existed (a field of ADDED_FIELDS) resumes when the
    run asks for the value that keeps the old behaviour, and is refused naming the field when it asks for
    another; a missing field that is not listed is a difference."""
    out = tmp_path / "run"
    shutil.copytree(reference[2][3][0], out)  # after epoch 1
    _drop_array_field(out, "write_compensation_model")
    other = replace_path(_config(), "hardware.array.write_compensation_model", "response")
    with pytest.raises(CheckpointError, match="write_compensation_model: 'solve' in the checkpoint, 'response'"):
        run_experiment(other, data=data, out_dir=out, resume=True)
    resumed = run_experiment(_config(), data=data, out_dir=out, checkpoint_every=40, resume=True)
    assert _same(resumed, reference[0])
    # only the fields known to keep the old behaviour at that value: any other missing field is a difference
    shutil.rmtree(out)
    shutil.copytree(reference[2][3][0], out)
    _drop_array_field(out, "write_scheme")
    with pytest.raises(CheckpointError, match="write_scheme: None in the checkpoint, 'v2' asked"):
        run_experiment(_config(), data=data, out_dir=out, resume=True)


def test_config_diff_lists_dotted_paths():
    a = {"seed": 0, "training": {"lr": 0.3, "margin": None}, "hidden": [16]}
    b = {"seed": 0, "training": {"lr": 0.1}, "hidden": [16, 8]}
    assert config_diff(a, b) == [("hidden", [16], [16, 8]), ("training.lr", 0.3, 0.1)]


# ------------------------------------------------------------------------------------------ bad files
@pytest.fixture
def ckpt(reference, tmp_path) -> Checkpoint:
    out = tmp_path / "run"
    shutil.copytree(reference[2][0][0], out)
    return Checkpoint(out)


def _tensor_file(ckpt: Checkpoint) -> Path:
    return ckpt.directory / json.loads(ckpt.json_path.read_text())["tensors"]


def _rewrite_json(ckpt: Checkpoint, change) -> None:
    record = json.loads(ckpt.json_path.read_text())
    record.pop("checksum")
    change(record)
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    record["checksum"] = hashlib.sha256(canonical).hexdigest()
    ckpt.json_path.write_text(json.dumps(record))


def _error(ckpt: Checkpoint, data) -> str:
    with pytest.raises(CheckpointError) as err:
        run_experiment(_config(), data=data, out_dir=ckpt.root, resume=True)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda c: c.json_path.unlink(), "state.json: missing"),
        (lambda c: c.json_path.write_text(c.json_path.read_text()[:200]), "not valid JSON"),
        (lambda c: c.json_path.write_bytes(b"\x00\xff garbage"), "state.json"),
        (lambda c: c.json_path.write_text('{"format": "something-else"}'), "not an mtjxbar checkpoint"),
        (lambda c: c.json_path.write_text(c.json_path.read_text().replace('"seed": 0', '"seed": 1')),
         "checksum does not match"),
        (lambda c: _rewrite_json(c, lambda r: r.update(format_version=99)), "newer than this mtjxbar"),
        (lambda c: _rewrite_json(c, lambda r: r["config"].update(seed=5)), "config does not match its sha256"),
        (lambda c: _tensor_file(c).unlink(), "safetensors: missing"),
        (lambda c: _tensor_file(c).write_bytes(_tensor_file(c).read_bytes()[:1000]), "truncated or altered"),
        (lambda c: _tensor_file(c).write_bytes(b"\x01" * len(_tensor_file(c).read_bytes())), "corrupted (sha256"),
        (lambda c: _rewrite_json(c, lambda r: r.update(position={"epoch": "x"})), "corrupted checkpoint"),
    ],
)
def test_damaged_checkpoints_name_the_file(ckpt, data, damage, needle):
    damage(ckpt)
    message = _error(ckpt, data)
    assert needle in message, message
    assert str(ckpt.directory) in message


def _replace_tensors(ckpt: Checkpoint, change) -> None:
    path = _tensor_file(ckpt)
    tensors, meta = load_tensors(path)
    change(tensors)
    data = save_tensors(ckpt.directory, path.name, tensors, meta)
    _rewrite_json(ckpt, lambda r: r.update(tensors_bytes=len(data), tensors_sha256=hashlib.sha256(data).hexdigest()))


def test_wrong_shape_missing_and_extra_tensors(ckpt, data):
    _replace_tensors(ckpt, lambda t: t.update({"insitu.layer0.states": torch.zeros(3, 5, dtype=torch.bool)}))
    message = _error(ckpt, data)
    assert "'insitu.layer0.states' has shape (3, 5), expected (64, 8)" in message and ".safetensors" in message
    _replace_tensors(ckpt, lambda t: t.pop("float.weight1"))
    assert "'float.weight1' missing" in _error(ckpt, data)
    _replace_tensors(ckpt, lambda t: t.update({"float.weight1": torch.zeros(8, 80), "extra": torch.zeros(1)}))
    assert "unexpected tensor 'extra'" in _error(ckpt, data)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "too short for a header"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......", "header is not JSON"),
        (b"GIF89a garbage garbage garbage", "not a safetensors file"),
        (b"\x08\x00\x00\x00\x00\x00\x00\x00[1,2,3] ", "not a table"),
    ],
)
def test_load_tensors_rejects_garbage(tmp_path, content, needle):
    path = tmp_path / "x.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        load_tensors(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_load_tensors_truncated(tmp_path):
    data = save_tensors(tmp_path, "t.safetensors", {"a": torch.arange(100.0)})
    (tmp_path / "t.safetensors").write_bytes(data[:-40])
    with pytest.raises(CheckpointError, match="truncated safetensors file"):
        load_tensors(tmp_path / "t.safetensors")


def test_crossbar_state_round_trip_restores_tables():
    """Restored arrays read and write exactly like the originals, table spans included."""
    gen = torch.Generator().manual_seed(0)
    a = Crossbar(6, 4, MTJParams())
    a.set_states(torch.rand(6, 4, generator=gen) < 0.5)
    a.read(torch.full((6,), 0.05))
    b = Crossbar(6, 4, MTJParams())
    b.load_state_dict(a.state_dict())
    assert b.state_dict()["table_spans"] == a.state_dict()["table_spans"]
    v = torch.linspace(-0.04, 0.05, 6)
    assert torch.equal(a.read(v), b.read(v)) and torch.equal(a.read_transposed(v[:4]), b.read_transposed(v[:4]))
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict({**a.state_dict(), "params": {k: torch.zeros(2, 2) for k in a.params}})


def test_a_resumed_epoch_reports_progress_from_where_it_resumed(reference, data, tmp_path):
    """The progress line of a resumed epoch starts at the checkpoint's sample (its rate and time left count
    the samples done since: ``tests/experiments/test_progress.py``), a fresh epoch at 0."""
    starts = []

    class Recording(ProgressPrinter):
        def start(self, label: str, done: int = 0) -> None:
            starts.append((label, done))
            super().start(label, done)

    snap, position = reference[2][1]  # epoch 1, in situ, sample 80
    assert (position["epoch"], position["phase"], position["sample"]) == (0, "insitu", 80)
    out = tmp_path / "run"
    shutil.copytree(snap, out)
    run_experiment(_config(), Recording(quiet=True), data=data, out_dir=out, checkpoint_every=40, resume=True)
    insitu = [(label, done) for label, done in starts if label.endswith("insitu")]
    assert insitu == [("epoch 1/2 insitu", 80), ("epoch 2/2 insitu", 0)]


def test_resuming_a_finished_run_says_there_is_nothing_to_train(reference, data, tmp_path):
    """The last checkpoint is the finished run's: resuming it trains nothing and says so (it used to say it
    was continuing from "epoch 3")."""
    import io

    snap, position = reference[2][-1]
    assert position["epoch"] == 2
    out = tmp_path / "run"
    shutil.copytree(snap, out)
    stream = io.StringIO()
    run_experiment(_config(), ProgressPrinter(stream), data=data, out_dir=out, checkpoint_every=40, resume=True)
    text = stream.getvalue()
    assert "finished its 2 epochs; nothing to train" in text and "continuing" not in text and "insitu" not in text
