"""``clinitui promote``: atomic under kill -9 at every step, --if-better refuses a worse model (exit 7) and
accepts a better one, rollback restores the previous checksum, and docs/operator.md's cron recipe, run as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.digest import sha256_file
from clinitui.errors import EXIT_NOT_BETTER
from clinitui.promote import folder_sha256, previous_link, promote, read_record, versions_dir
from tests.conftest import TINY

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
GOOD = ["--backbone", "tfidf"]  # a strong model in seconds
BAD = [*TINY, "--epochs", "1"]  # a tiny network, one epoch (on a tiny subset): near chance


def _cli(*args: str):
    return runner.invoke(app, list(args))


def _demo(path: Path, n: int, seed: int) -> Path:
    assert _cli("demo-data", str(path), "--n", str(n), "--seed", str(seed)).exit_code == 0
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.mktemp("promote")
    notes, tiny, recent = _demo(base / "notes.csv", 600, 1), _demo(base / "tiny.csv", 120, 3), _demo(base / "recent.csv", 300, 2)
    for name, data, opts in (("good", notes, GOOD), ("bad", tiny, BAD)):
        result = _cli("train", "--data", str(data), *opts, "--run-dir", str(base / "runs" / name), "--quiet", "--json")
        assert result.exit_code == 0, result.output
    return base, base / "runs" / "good" / "checkpoint", base / "runs" / "bad" / "checkpoint", recent


def _loads(deploy: Path) -> str:
    """The deployed folder is a complete checkpoint (config valid, weights match their checksum); its sha256."""
    from clinitui.engine.checkpoint.folder import read_checkpoint_info

    info = read_checkpoint_info(deploy)
    assert sha256_file(Path(deploy) / "model.safetensors") == info.raw["weights_sha256"]
    return folder_sha256(deploy)


def test_if_better_refuses_a_worse_model_and_accepts_a_better_one(models, tmp_path):
    base, good, bad, recent = models
    deploy = tmp_path / "deploy" / "current"
    first = _cli("promote", str(good.parent), "--to", str(deploy), "--if-better", "--data", str(recent), "--json")
    assert first.exit_code == 0, first.output  # nothing deployed yet: promoted
    record = json.loads(first.stdout)
    assert record["run"] == "good" and record["sha256"] == record["checkpoint_sha256"] == folder_sha256(good)
    assert record["comparison"] is None and record["metrics"]["test"]["f1_macro"] > 0.6
    refused = _cli("promote", str(bad.parent), "--to", str(deploy), "--if-better", "--data", str(recent))
    assert refused.exit_code == EXIT_NOT_BETTER == 7
    assert refused.stderr.count("\n") == 1 and "not promoted" in refused.stderr and "ΔF1" in refused.stderr
    assert _loads(deploy) == folder_sha256(good) and not previous_link(deploy).exists()
    assert _cli("promote", str(bad.parent), "--to", str(deploy)).exit_code == 0  # forced: no check
    better = _cli("promote", str(good.parent), "--to", str(deploy), "--if-better", "--data", str(recent), "--json")
    assert better.exit_code == 0, better.output
    cmp = json.loads(better.stdout)["comparison"]
    assert cmp["decision"] == "promote" and cmp["delta_f1_macro_ci"][0] > 0 and cmp["n"] == 300
    assert read_record(deploy)["replaced"]["run"] == "bad"
    history = [json.loads(line)["event"] for line in (deploy.parent / "current.history.jsonl").read_text().splitlines()]
    assert history == ["promoted", "refused", "promoted", "promoted"]


def test_rollback_restores_the_previous_checksum(models, tmp_path):
    base, good, bad, _ = models
    deploy = tmp_path / "current"
    promote(good, deploy)
    promote(bad, deploy)
    assert _loads(deploy) == folder_sha256(bad) and _loads(previous_link(deploy)) == folder_sha256(good)
    result = _cli("promote", "--rollback", str(deploy))
    assert result.exit_code == 0, result.output
    assert _loads(deploy) == folder_sha256(good) and read_record(deploy)["run"] == "good"
    assert _loads(previous_link(deploy)) == folder_sha256(bad)  # a second rollback undoes the first
    assert _cli("promote", "--rollback", str(tmp_path / "nothing")).exit_code == 2


KILLER = """
import os, signal, sys
from pathlib import Path
from clinitui.promote import promote, rollback
what, step = sys.argv[1], sys.argv[2]
def on_step(name):
    if name == step:
        os.kill(os.getpid(), signal.SIGKILL)
if what == "rollback":
    rollback(Path(sys.argv[3]), on_step=on_step)
else:
    promote(Path(sys.argv[3]), Path(sys.argv[4]), on_step=on_step)
"""


def test_promote_and_rollback_are_atomic_under_kill_9_at_every_step(models, tmp_path):
    base, good, bad, _ = models
    deploy = tmp_path / "current"
    steps: list[str] = []
    promote(good, tmp_path / "probe")
    promote(bad, tmp_path / "probe", on_step=steps.append)  # the steps of a promotion that replaces a model
    assert {"built", "sealed", "kept", "switched", "collected"} <= set(steps) and any(s.startswith("copied") for s in steps)
    promote(good, deploy)
    allowed = {folder_sha256(good), folder_sha256(bad)}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for step in steps + ["switched@rollback", "kept@rollback"]:
        argv = (["rollback", step.split("@")[0], str(deploy)] if step.endswith("@rollback")
                else ["promote", step, str(bad), str(deploy)])
        proc = subprocess.run([sys.executable, "-c", KILLER, *argv], env=env, capture_output=True, timeout=120)
        assert proc.returncode == -signal.SIGKILL, (step, proc.stderr)
        assert _loads(deploy) in allowed, step  # whatever step it died at, the deployed folder loads
        if previous_link(deploy).exists():
            assert _loads(previous_link(deploy)) in allowed, step
    record = promote(good, deploy)  # a promotion after all those kills completes and clears their leftovers
    assert _loads(deploy) == record["sha256"] == folder_sha256(good)
    left = sorted(p.name for p in versions_dir(deploy).iterdir())
    assert len(left) == 2 and not any(p.name.endswith(".tmp") for p in versions_dir(deploy).iterdir())
    assert not list(tmp_path.glob(".current*.link-*"))


def test_an_onnx_deployment_is_judged_by_its_source_checkpoint(models, tmp_path):
    pytest.importorskip("onnxruntime")
    base, good, bad, recent = models
    deploy = tmp_path / "current"
    result = _cli("promote", str(bad.parent), "--to", str(deploy), "--format", "onnx", "--json")
    assert result.exit_code == 0, result.output
    assert (deploy / "model.onnx").is_file() and read_record(deploy)["format"] == "onnx"
    predicted = _cli("predict", str(deploy), "--data", str(recent))  # the deployed export runs without torch
    assert predicted.exit_code == 0, predicted.output
    better = _cli("promote", str(good.parent), "--to", str(deploy), "--if-better", "--data", str(recent))
    assert better.exit_code == 0, better.output  # the ONNX model was judged by the checkpoint it came from
    assert read_record(deploy)["run"] == "good" and read_record(deploy)["replaced"]["run"] == "bad"
    assert (previous_link(deploy) / "model.onnx").is_file()


def _recipe() -> list[str]:
    """The cron recipe's lines, exactly as docs/operator.md shows them."""
    doc = (ROOT / "docs" / "operator.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- cron-recipe -->\n```sh\n(.*?)```", doc, re.S)
    assert block, "docs/operator.md lost its cron recipe"
    lines = block.group(1).strip().splitlines()
    assert len(lines) == 3
    return lines


@pytest.mark.slow
def test_the_cron_recipe_promotes_then_keeps_the_deployed_model_against_a_worse_one(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("clinitui", f'exec "{sys.executable}" -m clinitui "$@"'),
                       ("mail", f'echo "$@" >> "{tmp_path / "mailbox"}"; cat >> "{tmp_path / "mailbox"}"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(stat.S_IRWXU)
    notes, tiny, recent = _demo(tmp_path / "notes.csv", 600, 1), _demo(tmp_path / "tiny.csv", 120, 3), _demo(tmp_path / "recent.csv", 300, 2)
    script = tmp_path / "retrain.sh"
    script.write_text("#!/bin/sh\n" + "\n".join(_recipe()) + "\nexit $code\n")
    deploy = tmp_path / "models" / "current"
    (tmp_path / "runs").mkdir()

    def cron(data: Path, options: list[str]) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{bin_dir}:{os.environ['PATH']}", "NOTES": str(data),
               "RECENT": str(recent), "RUNS": str(tmp_path / "runs"), "DEPLOY": str(deploy), "TEAM": "ml@example.org",
               "TRAIN_OPTIONS": " ".join(options)}
        return subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=600)

    first = cron(notes, GOOD)
    assert first.returncode == 0, first.stderr
    assert not (tmp_path / "mailbox").exists()
    deployed = folder_sha256(deploy)
    assert read_record(deploy)["run"].startswith("retrain-")
    second = cron(tiny, BAD)  # one epoch on a tiny subset: worse
    assert second.returncode == EXIT_NOT_BETTER
    mail = (tmp_path / "mailbox").read_text()
    assert "exit 7" in mail and "not promoted" in mail
    assert folder_sha256(deploy) == deployed and not previous_link(deploy).exists()
    assert len(list((tmp_path / "runs").glob("retrain-*.json"))) == 2
    shutil.rmtree(tmp_path / "runs")
