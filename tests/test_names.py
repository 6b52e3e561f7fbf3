"""Every command that takes a run takes it the same four ways: its folder, its name, a unique prefix, ``last``.

The runs are real ones, copied from ``tests/fixtures/pre_reshape/`` (no training here): a finished
TF-IDF run, a newer finished blend (a network with its TF-IDF model, so ``export`` has a network to
write), and, newest of all, a copy of the TF-IDF run whose last event says it failed. Each command
must say on stderr which run it used; a command that needs a checkpoint must refuse the failed run
when it is named, and read ``last`` as the newest *finished* run, so it takes the blend.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.events import EventWriter

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "pre_reshape"
TFIDF = "20261201-100000-tfidf"
BLEND = "20261202-100000-scratch-transformer-grn"
FAILED = "20261203-100000-tfidf-failed"
runner = CliRunner()


@pytest.fixture
def root(tmp_path) -> Path:
    """Three runs started a day apart, the newest failed; their data file no longer exists, so a
    resume stops at reading it (exit 2) after the run was resolved, and nothing trains."""
    root = tmp_path / "runs"
    for name, source, day in ((TFIDF, "tfidf", 1), (BLEND, "blend", 2), (FAILED, "tfidf", 3)):
        shutil.copytree(FIXTURE / "runs" / source, root / name)
        toml = root / name / "run.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace('"/work/fixture/notes.csv"',
                                                                   json.dumps(str(tmp_path / "gone.csv"))))
        os.utime(toml, (1_796_000_000 + day * 86400,) * 2)
    writer = EventWriter(root / FAILED / "events.jsonl")
    writer.emit("run_failed", message="the loss became NaN at step 3", stage="train")
    writer.close()
    shutil.copy(FIXTURE / "notes.csv", tmp_path / "notes.csv")
    return root


def forms(root: Path, name: str) -> dict[str, str]:
    return {"folder": str(root / name), "name": name, "prefix": name[:10]}


def invoke(args: list[str]):
    return runner.invoke(app, [str(a) for a in args])


def checkpoint_commands(root: Path, run: str) -> dict[str, list]:
    """Every command that needs a checkpoint, with ``run`` where the checkpoint goes."""
    out, notes = root.parent, root.parent / "notes.csv"
    rr = ["--runs-root", root]
    return {
        "eval": ["eval", run, "--data", notes, "--bootstrap", "0", "--json", *rr],
        "eval --compare": ["eval", root / TFIDF / "checkpoint", "--compare", run, "--data", notes, "--bootstrap", "0",
                           "--json", *rr],
        "predict": ["predict", run, "--data", notes, "--out", out / "p.csv", *rr],
        "export": ["export", run, "--out", out / f"export-{len(list(out.glob('export-*')))}", *rr],
        "report": ["report", run, "--out", out / "r.html", "--bootstrap", "0", *rr],
    }


def test_checkpoint_commands_take_every_form_and_last_skips_the_newer_failed_run(root):
    for form, arg in {**forms(root, BLEND), "last": "last"}.items():
        for command, args in checkpoint_commands(root, arg).items():
            result = invoke(args)
            assert result.exit_code == 0, (form, command, result.output)
            used = [line for line in result.stderr.splitlines() if line.startswith("using ")]
            expected = f"using run {BLEND} (finished)"
            assert used[-1] == expected and used.count(expected) == 1, (form, command, result.stderr)
            if "--json" in args:
                json.loads(result.stdout)  # the line went to stderr: stdout is still one JSON document
    assert "using run 20261201-100000-tfidf (finished)" in invoke(checkpoint_commands(root, BLEND)["eval --compare"]).stderr


def test_a_failed_run_named_for_its_checkpoint_is_refused_in_one_line(root):
    for form, arg in forms(root, FAILED).items():
        for command, args in checkpoint_commands(root, arg).items():
            result = invoke(args)
            assert result.exit_code == 2, (form, command, result.output)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in result.output, (form, command, result.stderr)
            assert f"{FAILED}: the run failed" in lines[0] and f"clinitui runs show {FAILED}" in lines[0]
    # its checkpoint/ folder, given as a path, is taken as it is (and the line says whose it is)
    result = invoke(checkpoint_commands(root, root / FAILED / "checkpoint")["eval"])
    assert result.exit_code == 0, result.output
    assert f"using run {FAILED} (failed)" in result.stderr
    # a checkpoint folder copied outside any run, too
    shutil.copytree(root / TFIDF / "checkpoint", root.parent / "copied")
    result = invoke(checkpoint_commands(root, root.parent / "copied")["predict"])
    assert result.exit_code == 0 and f"using checkpoint {root.parent / 'copied'}" in result.stderr


def run_commands(root: Path, run: str) -> dict[str, list]:
    """Every command that takes a run itself, and what `last` means for it (the run, or the error)."""
    rr = ["--runs-root", root]
    return {
        "runs show": ["runs", "show", run, *rr],
        "runs show --json": ["runs", "show", run, "--json", *rr],
        "runs stop": ["runs", "stop", run, *rr],
        "runs resume": ["runs", "resume", run, *rr],
        "runs rm": ["runs", "rm", run, *rr],  # no --yes and no terminal: refused after naming the run
        "train --resume": ["train", "--resume", run, *rr],
        "pretrain --resume": ["pretrain", "--resume", run, *rr],
    }


def test_run_commands_take_every_form_and_say_which_run(root):
    for form, arg in {**forms(root, FAILED), "last": "last"}.items():
        for command, args in run_commands(root, arg).items():
            result = invoke(args)
            if command == "runs stop" and form == "last":  # the newest *running* run: there is none
                assert result.exit_code == 2 and "no running run" in result.stderr, result.output
                continue
            used = [line for line in result.stderr.splitlines() if line.startswith("using ")]
            assert used == [f"using run {FAILED} (failed)"], (form, command, result.stderr)
            if command.startswith("runs show"):
                assert result.exit_code == 0, result.output
                shown = json.loads(result.stdout)["status"] if "--json" in args else result.stdout
                assert "failed" in shown  # shown as such, not refused
            else:  # nothing to stop, no --yes, its data file is gone: each says so after naming the run
                assert result.exit_code == 2, (form, command, result.output)
    quiet = invoke([*run_commands(root, FAILED)["train --resume"], "--quiet"])
    assert quiet.exit_code == 2 and "using run" not in quiet.stderr


def test_last_means_what_each_command_needs(root):
    """With the blend started last, `show` takes it, `resume` the newest run it can continue."""
    os.utime(root / BLEND / "run.toml", (1_796_000_000 + 9 * 86400,) * 2)
    assert f"using run {BLEND} (finished)" in invoke(run_commands(root, "last")["runs show"]).stderr
    for command in ("runs resume", "train --resume", "pretrain --resume"):
        assert f"using run {FAILED} (failed)" in invoke(run_commands(root, "last")[command]).stderr
    shutil.rmtree(root / BLEND)
    shutil.rmtree(root / TFIDF)
    result = invoke(checkpoint_commands(root, "last")["eval"])
    assert result.exit_code == 2 and "no finished run with a checkpoint" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_sweeps_by_name_prefix_and_last(tmp_path):
    sweeps = tmp_path / "sweeps"
    for name in ("20261204-100000-sweep", "20261205-100000-sweep"):
        (sweeps / name / "trials").mkdir(parents=True)
        (sweeps / name / "sweep.toml").write_text('[grid]\nadapter = ["grn"]\n')
    os.utime(sweeps / "20261205-100000-sweep" / "sweep.toml", (1_796_000_000,) * 2)  # started first
    for arg, name in (("last", "20261204-100000-sweep"), ("20261205", "20261205-100000-sweep"),
                      (str(sweeps / "20261205-100000-sweep"), "20261205-100000-sweep")):
        result = invoke(["sweep", "show", arg, "--json", "--sweeps-root", sweeps])
        assert result.exit_code == 0, result.output
        assert result.stderr.splitlines()[0] == f"using sweep {name}"
        assert json.loads(result.stdout)["sweep_dir"] == str(sweeps / name)
    result = invoke(["sweep", "show", "2026120", "--sweeps-root", sweeps])
    assert result.exit_code == 2 and "matches 2 sweeps" in result.stderr
