"""`clinitui sweep`: a 4-trial grid in 2 CPU slots (never more than 2 at once), kill -9 of the
scheduler and its workers then resume (no finished trial re-run, the same table), refused and
failed trials in the table, `sweep show`, and bad specs refused before anything starts.

Real tiny models and real detached workers throughout; no mocked engine.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.events import read_events
from clinitui.sweep.journal import read_journal
from tests.conftest import make_rows, write_csv

runner = CliRunner()

TINY_SET = """
"train.epochs" = 3
"train.max_length" = 32
"train.batch_size" = 16
"train.lr" = 3e-3
"train.log_every" = 2
"train.state_every_s" = 0.5
"train.threads" = 1
"model.backbone_options.vocab_size" = 300
"model.backbone_options.min_frequency" = 2
"model.ensemble" = "none"
"""

GRID = f"""description = "test grid"
seeds = [1, 2]
[base]
backbone = "scratch-tiny"
budget = "cpu"
data = "notes.csv"
[base.set]
{TINY_SET}
[grid]
adapter = ["grn", "linear"]
[resources]
slots = 2
"""


def write_spec(tmp: Path, text: str, name: str = "spec.toml") -> Path:
    """The spec, beside a small learnable notes file (conftest's keyword notes; never real data)."""
    tmp.mkdir(parents=True, exist_ok=True)
    write_csv(tmp / "notes.csv", make_rows(200, seed=3))
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def comparable(payload: dict) -> list[tuple]:
    """What must not change between an uninterrupted, a resumed and a Ray sweep (not times, not memory)."""
    return sorted((t["name"], t["status"], json.dumps(t["settings"]), t["seed"], t["val_f1_macro"], t["test_f1_macro"],
                   t["test_accuracy"], t["params_trainable"], t["params_total"]) for t in payload["trials"])


def max_concurrent(sweep_dir: Path) -> int:
    """Most trials between their journalled start and end at one instant (the scheduler's own record)."""
    marks = []
    for e in read_journal(sweep_dir):
        if e["type"] == "sweep_started":  # a scheduler restart after kill -9: the killed trials ended
            marks.append((e["t"], 0))
        elif e["type"] == "trial_started":
            marks.append((e["t"], 1))
        elif e["type"] in ("trial_finished", "trial_failed", "trial_pruned"):
            marks.append((e["t"], -1))
    level = peak = 0
    for _, step in sorted(marks, key=lambda m: (m[0], m[1])):
        level = 0 if step == 0 else level + step
        peak = max(peak, level)
    return peak


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The grid run uninterrupted, in the foreground, as a user would."""
    tmp = tmp_path_factory.mktemp("ref")
    spec = write_spec(tmp, GRID)
    out = tmp / "sweep"
    result = runner.invoke(app, ["sweep", str(spec), "--sweep-dir", str(out), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


@pytest.mark.slow  # 16 s of four real trials; the marked tier runs it (.ci/run)
def test_four_trials_in_two_slots_never_more_than_two_at_once(reference):
    out, payload = reference
    assert payload["status"] == "finished" and len(payload["trials"]) == 4
    assert {t["status"] for t in payload["trials"]} == {"finished"}
    assert max_concurrent(out) == 2  # both slots used, never a third trial
    assert len({t["val_f1_macro"] for t in payload["trials"]} | {t["test_f1_macro"] for t in payload["trials"]}) > 1
    assert max(t["val_f1_macro"] for t in payload["trials"]) > 0.6  # real learning: the table compares something
    for t in payload["trials"]:  # each trial is an ordinary run directory
        run = Path(t["run_dir"])
        assert (run / "run.toml").is_file() and (run / "checkpoint" / "model.safetensors").is_file()
        assert "threads = 1" in (run / "run.toml").read_text() and "baseline = false" in (run / "run.toml").read_text()
    # ranked on validation, best marked, the baseline computed once and shown as its own row
    vals = [g["val_f1_macro"] for g in payload["groups"]]
    assert vals == sorted(vals, reverse=True) and payload["groups"][0]["best"]
    assert payload["baseline"]["test_f1_macro"] > 0 and payload["baseline"]["val_f1_macro"] > 0
    assert sum(e["type"] == "baseline" for e in read_journal(out)) == 1
    shown = runner.invoke(app, ["sweep", "show", str(out)])
    assert shown.exit_code == 0 and "baseline TF-IDF" in shown.stdout and "* " in shown.stdout
    as_csv = runner.invoke(app, ["sweep", "show", str(out), "--csv"])
    assert as_csv.stdout.splitlines()[0].startswith("name,status,adapter,seed,val_f1_macro")
    assert len(as_csv.stdout.splitlines()) == 1 + 4 + 1
    runs = runner.invoke(app, ["runs", "list", "--runs-root", str(out / "trials"), "--json"])
    assert runs.exit_code == 0 and len(json.loads(runs.stdout)) == 4


def _kill_mid_sweep(out: Path, pid: int) -> set[str]:
    """SIGKILL the scheduler and every worker once a trial has finished and another has saved state."""
    deadline = time.time() + 300
    while time.time() < deadline:
        finished = {e["name"] for e in read_journal(out) if e["type"] == "trial_finished"}
        mid = [d for d in (out / "trials").iterdir() if (d / "state" / "trainer.pt").is_file()
               and d.name not in finished and not any(e["type"] == "run_finished" for e in read_events(d))]
        if finished and mid:
            os.kill(pid, signal.SIGKILL)
            for d in (out / "trials").iterdir():
                from clinitui.rundir import lock_holder, read_pid

                for p in {lock_holder(d), read_pid(d)} - {None, -1}:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            return finished
        time.sleep(0.05)
    pytest.fail("the sweep never reached a point with one trial finished and another mid-training")


@pytest.mark.slow  # kill -9 of a live sweep, then a resumed one: ~30 s on 2 busy cores
def test_kill_9_then_resume_reruns_no_finished_trial_and_gives_the_same_table(reference, tmp_path):
    spec = write_spec(tmp_path, GRID)
    out = tmp_path / "sweep"
    started = runner.invoke(app, ["sweep", str(spec), "--sweep-dir", str(out), "--detach", "--json"])
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    assert info["sweep_dir"] == str(out) and info["pid"] > 0
    finished_before = _kill_mid_sweep(out, info["pid"])
    time.sleep(0.5)
    shown = json.loads(runner.invoke(app, ["sweep", "show", str(out), "--json"]).stdout)
    assert shown["status"] == "interrupted"

    resumed = runner.invoke(app, ["sweep", "--resume", str(out), "--json", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    payload = json.loads(resumed.stdout)
    assert comparable(payload) == comparable(reference[1])
    for name in finished_before:  # trained once: one run_started, one trial_started in the journal
        assert sum(e["type"] == "run_started" for e in read_events(out / "trials" / name)) == 1
        assert sum(e["type"] == "trial_started" and e["name"] == name for e in read_journal(out)) == 1
    resumed_runs = [t for t in payload["trials"]
                    if any(e.get("resumed_from_step") for e in read_events(Path(t["run_dir"])) if e["type"] == "run_started")]
    assert resumed_runs, "no trial continued from its saved state"
    assert max_concurrent(out) <= 2


def test_refused_and_failed_trials_are_in_the_table_and_the_sweep_finishes(tmp_path):
    """LoRA on a from-scratch encoder fails in its worker; a 1 kB budget is refused by the planner."""
    spec = write_spec(tmp_path, f"""seeds = 1
[base]
backbone = "scratch-tiny"
budget = "cpu"
data = "notes.csv"
[base.set]
{TINY_SET}
"train.max_steps" = 2
[grid]
adapter = ["lora", "linear"]
"budget.memory_bytes" = [8000000000, 1000]
[resources]
slots = 2
""")
    result = runner.invoke(app, ["sweep", str(spec), "--sweep-dir", str(tmp_path / "s"), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    by = {(t["settings"]["adapter"], t["settings"]["budget.memory_bytes"]): t for t in payload["trials"]}
    assert payload["status"] == "finished" and len(by) == 4
    assert by[("linear", 8000000000)]["status"] == "finished"
    failed = by[("lora", 8000000000)]
    assert failed["status"] == "failed" and "lora" in failed["error"] and failed["run_dir"]
    for adapter in ("linear", "lora"):
        refused = by[(adapter, 1000)]
        assert refused["status"] == "refused" and refused["run_dir"] is None  # never started
        assert "budget" in refused["error"].lower() or "memory" in refused["error"].lower()
    text = runner.invoke(app, ["sweep", "show", str(tmp_path / "s")]).stdout
    assert "refused" in text and "failed" in text


@pytest.mark.parametrize("text,expected", [
    ('seeds = 1\nfoo = 1\n[grid]\nadapter = ["grn"]\n', "unknown key 'foo'"),
    ('seeds = 1\n[grid]\n', "[grid] is empty"),
    ('[grid]\nadapter = []\n', "grid 'adapter' is empty"),
    ('[grid]\n"train.lr" = ["fast"]\n', "'train.lr'"),
    ('[grid]\n"train.epoch" = [1, 2]\n', "train.epoch"),
    ('[search]\nn_trials = 3\nspace = { "train.lr" = { low = 0.1, high = 0.01 } }\n', "search.space 'train.lr'"),
    ('[base]\nbackbon = "x"\n[grid]\nadapter = ["grn"]\n', "unknown key 'base.backbon'"),
    ('[grid]\nadapter = ["grn"]\n[resources]\nslots = "two"\n', "resources.slots"),
])
def test_bad_specs_are_one_line_exit_2_and_nothing_starts(tmp_path, text, expected):
    spec = write_spec(tmp_path, text)
    root = tmp_path / "sweeps"
    result = runner.invoke(app, ["sweep", str(spec), "--sweeps-root", str(root)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.output
    assert not root.exists()


def test_shorthand_and_cli_errors(tmp_path):
    root = tmp_path / "sweeps"
    cases = [
        (["sweep", "--sweeps-root", str(root)], "nothing to sweep"),
        (["sweep", "--adapters", "grn,nope", "--sweeps-root", str(root)], "nope"),
        (["sweep", "--preset", "no-such-sweep", "--sweeps-root", str(root)], "no-such-sweep"),
        (["sweep", "--adapters", "grn", "--address", "h:1", "--sweeps-root", str(root)], "--backend ray"),
        (["sweep", "--adapters", "grn", "--gpus", "a,b", "--sweeps-root", str(root)], "resources.gpus"),
        (["sweep", "show", str(tmp_path)], "not a clinitui sweep directory"),
    ]
    for args, expected in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and expected in result.stderr, (args, result.output)
    assert not root.exists()


# The marked tier (.ci/run runs it after the default suite): 45 s on 2 idle cores, Ray's start-up included.
@pytest.mark.slow
def test_the_same_grid_through_ray_gives_the_same_table(reference, tmp_path):
    """`--backend ray` with a local Ray (num_cpus = slots x threads = 2, no dashboard): same trials, same table."""
    pytest.importorskip("ray")
    spec = write_spec(tmp_path, GRID)
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", str(spec), "--backend", "ray", "--sweep-dir", str(out), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["backend"] == "ray" and payload["status"] == "finished"
    assert comparable(payload) == comparable(reference[1])
    assert max_concurrent(out) <= 2


@pytest.mark.slow  # three trials one after another in part: ~2 min on 2 busy cores
def test_an_optuna_search_stays_in_its_space_and_records_its_study(tmp_path):
    """TPE over a learning-rate range, 3 trials in 2 slots; the study lives in a journal file."""
    pytest.importorskip("optuna")
    spec = write_spec(tmp_path, f"""seeds = [5]
[base]
backbone = "scratch-tiny"
budget = "cpu"
data = "notes.csv"
[base.set]
{TINY_SET}
[search]
n_trials = 3
space = {{ "train.lr" = {{ low = 1e-3, high = 1e-2, log = true }}, "adapter" = {{ choices = ["grn", "linear"] }} }}
[resources]
slots = 2
""".replace('"train.epochs" = 3', '"train.epochs" = 2'))
    out = tmp_path / "s"
    result = runner.invoke(app, ["sweep", str(spec), "--sweep-dir", str(out), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["mode"] == "search" and len(payload["trials"]) == 3
    for t in payload["trials"]:
        assert 1e-3 <= t["settings"]["train.lr"] <= 1e-2 and t["settings"]["adapter"] in ("grn", "linear")
        assert t["status"] in ("finished", "pruned")
        assert f"lr = {t['settings']['train.lr']}" in (Path(t["run_dir"]) / "run.toml").read_text()
    import optuna

    from clinitui.sweep.search import STUDY, storage

    study = optuna.load_study(study_name=STUDY, storage=storage(out))
    assert len(study.trials) == 3 and (out / "optuna.journal").is_file()
    assert {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED"}


def test_backend_ray_without_ray_is_one_line_and_exit_2(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    root = tmp_path / "sweeps"
    result = runner.invoke(app, ["sweep", "--adapters", "grn,linear", "--backend", "ray", "--sweeps-root", str(root)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "pip install 'clinitui[ray]'" in result.stderr and not root.exists()
