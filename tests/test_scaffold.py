"""The run scaffold and the checkpoint swap: every kind of run is private, and no crash loses a checkpoint.

engine/recipes/scaffold.py sets every run up the same way (umask, lock, run.toml, events, failure);
engine/checkpoint/swap.py writes every checkpoint folder the same way (``.new``, renames, ``.old``).
A crash is simulated by an exception the swap does not handle (a kill runs no clean-up), a full
disk by an ``OSError`` (which it does).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.config.schema import RunConfig
from clinitui.engine.checkpoint import swap
from tests.conftest import make_rows, write_csv

runner = CliRunner()
POINTS = ("build", "rename-old", "rename-new", "drop-old")  # where a write can be cut short, in order


class Crash(BaseException):
    """A kill: nothing after it runs (the swap cleans up after an OSError only)."""


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("scaffold") / "notes.csv", make_rows(240))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- the TF-IDF run under the scaffold --------------------------------------------------------------

def test_tfidf_run_is_private_whatever_the_umask(csv, tmp_path):
    """Every file 0600 and every folder 0700, as for a network run (tests/test_faults.py)."""
    old = os.umask(0)
    try:
        result = runner.invoke(app, ["train", "--data", str(csv), "--backbone", "tfidf", "--run-dir",
                                     str(tmp_path / "r"), "--quiet"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    paths = [tmp_path / "r", *(tmp_path / "r").rglob("*")]
    assert any(p.name == "tfidf.json" for p in paths)
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} has mode {oct(mode)}"


def test_tfidf_run_writes_under_the_private_umask_and_restores_it(csv, tmp_path):
    """Whatever a library creates while the run is on (scikit-learn, safetensors) is private too."""
    from clinitui.engine.recipes.dispatch import recipe_for

    seen = {}
    config = RunConfig(data={"path": str(csv)}, model={"backbone": "tfidf"})
    recipe = recipe_for(config)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    old = os.umask(0o022)
    try:
        recipe.execute(recipe.prepare(config), run, listeners=[lambda e: seen.setdefault(e["type"], _umask())])
        after = _umask()
    finally:
        os.umask(old)
    assert seen["run_started"] == seen["checkpoint"] == seen["run_finished"] == 0o077
    assert after == 0o022
    assert not (run / "worker.pid").exists()


def test_recipe_for_picks_by_kind():
    from clinitui.engine.recipes import pretrain, tfidf, train
    from clinitui.engine.recipes.dispatch import recipe_for
    from clinitui.kinds import RunKind

    tfidf_cfg = RunConfig(model={"backbone": "tfidf"})
    assert (recipe_for(tfidf_cfg).kind, recipe_for(tfidf_cfg).execute) == (RunKind.TFIDF, tfidf.execute)
    assert recipe_for(RunConfig()).execute is train.execute
    assert recipe_for({"pretrain": {"steps": 3}}).prepare is pretrain.prepare


# -- the folder swap itself ----------------------------------------------------------------------

def _cut(monkeypatch, directory: Path, point: str, exc: BaseException) -> None:
    """Make the next swap of ``directory`` raise ``exc`` at ``point``."""
    new, old = swap.new_path(directory), swap.old_path(directory)
    real_replace, real_rmtree = os.replace, shutil.rmtree

    def replace(src, dst):
        if (point == "rename-old" and Path(dst) == old) or (point == "rename-new" and Path(src) == new):
            raise exc
        return real_replace(src, dst)

    def rmtree(path, *args, **kwargs):
        if point == "drop-old" and Path(path) == old and not new.exists() and directory.exists():
            raise exc
        return real_rmtree(path, *args, **kwargs)

    def seal(folder):
        raise exc

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    if point == "build":
        monkeypatch.setattr(swap, "_seal", seal)


def _write(directory: Path, text: str) -> None:
    swap.write_folder(directory, lambda tmp: (tmp / "data.txt").write_text(text))


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_anywhere_leaves_one_complete_folder_to_read(tmp_path, monkeypatch, point):
    folder = tmp_path / "checkpoint"
    _write(folder, "previous")
    with monkeypatch.context() as m:
        _cut(m, folder, point, Crash())
        with pytest.raises(Crash):
            _write(folder, "next")
    expected = "next" if point == "drop-old" else "previous"  # the new folder was complete once renamed in
    assert (swap.current(folder) / "data.txt").read_text() == expected
    assert (folder.exists() or point == "rename-new") and swap.old_path(folder).exists() == (point in ("rename-new", "drop-old"))
    _write(folder, "again")  # the next start: the left-overs are put back or removed first
    assert (folder / "data.txt").read_text() == "again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE((folder / "data.txt").stat().st_mode) == 0o600


@pytest.mark.parametrize("point", POINTS[:3])
def test_a_failed_write_keeps_the_previous_folder_and_no_leftovers(tmp_path, monkeypatch, point):
    folder = tmp_path / "checkpoint"
    _write(folder, "previous")
    with monkeypatch.context() as m:
        _cut(m, folder, point, OSError(28, "No space left on device"))
        with pytest.raises(OSError):
            _write(folder, "next")
    assert (folder / "data.txt").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_backbone_folder_goes_through_the_swap(tmp_path, monkeypatch):
    from clinitui.engine.recipes.pretrain import save_backbone_folder

    class Model:
        def save_backbone(self, directory, tokenizer, marker):
            (directory / "clinitui_backbone.json").write_text(json.dumps(marker))

    folder = tmp_path / "checkpoint"
    save_backbone_folder(folder, Model(), None, {"steps": 1})
    with monkeypatch.context() as m:
        _cut(m, folder, "rename-new", Crash())
        with pytest.raises(Crash):
            save_backbone_folder(folder, Model(), None, {"steps": 2})
    assert json.loads((swap.current(folder) / "clinitui_backbone.json").read_text()) == {"steps": 1}
    save_backbone_folder(folder, Model(), None, {"steps": 3})
    assert json.loads((folder / "clinitui_backbone.json").read_text()) == {"steps": 3}
    assert not swap.old_path(folder).exists() and not swap.new_path(folder).exists()


# -- real checkpoints: the previous one still predicts the same -----------------------------------

@pytest.fixture(scope="module")
def tfidf_run(csv, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("tfidf") / "run"
    result = runner.invoke(app, ["train", "--data", str(csv), "--backbone", "tfidf", "--run-dir", str(run), "--quiet"])
    assert result.exit_code == 0, result.output
    return run


@pytest.mark.parametrize("point", POINTS)
def test_tfidf_checkpoint_survives_a_crash_at_each_point(tfidf_run, csv, tmp_path, monkeypatch, point):
    from clinitui.engine.checkpoint.folder import read_checkpoint_info, save_tfidf_checkpoint
    from clinitui.engine.inference.predictor import checkpoint_probabilities
    from clinitui.engine.tfidf.model import TfidfModel

    run = tmp_path / "run"
    shutil.copytree(tfidf_run, run)
    ckpt = run / "checkpoint"
    texts = [r["text"] for r in make_rows(40, seed=9)]
    before, info = checkpoint_probabilities(ckpt, texts)
    scored_before = _eval(ckpt, csv)
    rows = make_rows(240, seed=3)  # another model: a swap that got through would change the predictions
    other = TfidfModel.fit([r["text"] for r in rows[:200]], [int(r["label"]) for r in rows[:200]],
                           [r["text"] for r in rows[200:]], [int(r["label"]) for r in rows[200:]], info.label_names)
    with monkeypatch.context() as m:
        _cut(m, ckpt, point, Crash())
        with pytest.raises(Crash):
            save_tfidf_checkpoint(ckpt, other, model_cfg=info.model, max_length=info.max_length,
                                  positive_index=info.positive_index, extra={"epoch": 2})
    after, after_info = checkpoint_probabilities(ckpt, texts)
    if point == "drop-old":  # renamed in: the new checkpoint, complete
        assert after_info.raw["epoch"] == 2 and not np.array_equal(after, before)
        return
    np.testing.assert_array_equal(after, before)
    assert read_checkpoint_info(run).raw == info.raw  # the run folder finds it too
    if point == "rename-new":  # only checkpoint.old is left: the engine reads it; the next write puts it back
        assert not ckpt.exists()
        swap.restore(ckpt)
    assert _eval(ckpt, csv) == scored_before


def _eval(ckpt: Path, csv: Path) -> dict:
    scored = runner.invoke(app, ["eval", str(ckpt), "--data", str(csv), "--json"])
    assert scored.exit_code == 0, scored.output
    out = json.loads(scored.stdout)
    return {k: v for k, v in out.items() if k not in ("checkpoint", "seconds", "wall_seconds")}


def test_network_checkpoint_survives_a_crash_between_the_renames(csv, tmp_path, monkeypatch):
    import torch

    from clinitui.engine.checkpoint.folder import load_checkpoint, save_checkpoint
    from clinitui.engine.checkpoint.format import KEYS
    from clinitui.engine.inference.predictor import checkpoint_probabilities
    from clinitui.engine.recipes.train import execute, prepare

    config = RunConfig.model_validate({
        "data": {"path": str(csv)},
        "model": {"backbone_options": {"size": "tiny", "vocab_size": 300, "min_frequency": 2}, "ensemble": "none"},
        "train": {"epochs": 1, "max_length": 32, "batch_size": 16, "threads": 1, "baseline": False, "bootstrap": 0},
        "budget": {"device": "cpu"},
    })
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    execute(prepare(config), run)
    ckpt = run / "checkpoint"
    texts = [r["text"] for r in make_rows(30, seed=9)]
    before, _ = checkpoint_probabilities(ckpt, texts, device="cpu")
    model, tokenizer, info = load_checkpoint(ckpt)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    for point in POINTS[:3]:
        with monkeypatch.context() as m:
            _cut(m, ckpt, point, Crash())
            with pytest.raises(Crash):
                save_checkpoint(ckpt, model, tokenizer, model_cfg=info.model, freeze=info.freeze,
                                label_names=info.label_names, positive_index=info.positive_index,
                                max_length=info.max_length, extra={"epoch": 9})
        after, after_info = checkpoint_probabilities(ckpt, texts, device="cpu")
        np.testing.assert_array_equal(after, before)
        assert after_info.raw == info.raw, point
    save_checkpoint(ckpt, model, tokenizer, model_cfg=info.model, freeze=info.freeze, label_names=info.label_names,
                    positive_index=info.positive_index, max_length=info.max_length, extra={"epoch": 9})
    assert json.loads((ckpt / "config.json").read_text())["epoch"] == 9
    assert sorted(p.name for p in run.glob("checkpoint*")) == ["checkpoint"]
    assert set(json.loads((ckpt / "config.json").read_text())) <= KEYS


def test_config_keys_are_declared_once(tfidf_run, tmp_path):
    """Every key a run writes is one of format.CheckpointConfig; nothing else is written or added."""
    from clinitui.engine.checkpoint.format import KEYS, update_config, write_config

    assert set(json.loads((tfidf_run / "checkpoint" / "config.json").read_text())) <= KEYS
    with pytest.raises(ValueError, match="not a checkpoint config key: colour"):
        write_config(tmp_path, {"format": "clinitui-checkpoint", "colour": "red"})
    with pytest.raises(ValueError, match="colour"):
        update_config(tfidf_run / "checkpoint", colour="red")
