"""Output a person reads off a terminal (a pipe, a file, cron's mail): tables as aligned plain text,
never wrapped; full descriptions in ``--help``; parameter counts as ``1.22 M``; ``export`` lists
the files on disk. The runs are the finished ones of ``tests/fixtures/pre_reshape/``."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.fmt import aligned, fmt_params

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "pre_reshape"
REPO = Path(__file__).resolve().parents[1]
BOX = re.compile("[\u2500-\u257f]")  # box-drawing characters (Rich's borders)
runner = CliRunner()


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plain") / "fx"
    shutil.copytree(FIXTURE, root)
    return root


def cli(args: list[str], root: Path, columns: str | None, **kw) -> subprocess.CompletedProcess:
    """``python -m clinitui ARGS`` with stdout a pipe, as cron runs it."""
    env = {**os.environ, "CLINITUI_RUNS_ROOT": str(root / "runs"), "PYTHONPATH": str(REPO)}
    env.pop("COLUMNS", None)
    if columns:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-m", "clinitui", *args], env=env, capture_output=True, text=True,
                          timeout=120, **kw)


def assert_plain(out: str) -> None:
    assert not BOX.search(out), out
    for line in out.splitlines():  # an interval is never split: each "[" closes on its own line
        assert line.count("[") == line.count("]"), f"split line: {line!r}\n{out}"


@pytest.mark.parametrize("how", ["pipe, COLUMNS=40", "CliRunner"])
def test_eval_off_a_terminal_is_plain_and_never_wrapped(root, how, monkeypatch):
    args = ["eval", str(root / "runs" / "blend"), "--data", str(root / "notes.csv"), "--bootstrap", "100"]
    if how == "CliRunner":  # in-process, at the default width (80)
        monkeypatch.delenv("COLUMNS", raising=False)
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
    else:
        done = cli(args, root, "40")
        assert done.returncode == 0, done.stderr
    assert_plain(done.stdout)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("model: a blend")  # what computed the predictions (clinitui/describe.py)
    assert lines[1] == "notes.csv [all] (n=240)"  # the title's brackets are not eaten as markup
    f1 = next(line for line in lines if line.startswith("F1 (macro) "))
    assert re.search(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$", f1)  # the whole interval on the row's line
    rows = [line for line in lines if re.match(r"[01] ", line)]  # per-class rows, then the confusion matrix
    assert len(rows) == 4 and all(line.count("[") == 3 for line in rows[:2])


@pytest.mark.parametrize("columns", [None, "40"])
def test_runs_list_and_show_off_a_terminal_are_plain(root, columns):
    listing = cli(["runs", "list"], root, columns)
    assert listing.returncode == 0, listing.stderr
    assert_plain(listing.stdout)
    head, *rows = listing.stdout.splitlines()
    assert head.split() == ["name", "status", "kind", "model", "predicts", "data", "epoch", "val", "F1", "test",
                            "F1", "started", "duration"]
    assert sorted(r.split()[0] for r in rows) == ["blend", "multi", "tfidf"]  # one run per line
    for name in ("blend", "multi"):  # a binary and a multi-label run
        show = cli(["runs", "show", name], root, columns)
        assert show.returncode == 0, show.stderr
        assert_plain(show.stdout)
        assert "test metrics (n=24)" in show.stdout and re.search(r"^F1 \(macro\) +\d\.\d{3}", show.stdout, re.M)


def test_a_terminal_keeps_the_rich_tables(root):
    """At a terminal (a pseudo-terminal here) the boxed Rich tables stay."""
    parent, child = pty.openpty()
    env = {**os.environ, "CLINITUI_RUNS_ROOT": str(root / "runs"), "PYTHONPATH": str(REPO), "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "clinitui", "runs", "show", "blend"], env=env, stdout=child,
                            stderr=subprocess.DEVNULL)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(parent)
    assert proc.wait(timeout=60) == 0
    out = b"".join(chunks).decode("utf-8", "replace")
    assert BOX.search(out) and "1.000 [1.000, 1.000]" in out


def test_a_closed_pipe_ends_quietly():
    """`clinitui presets list | head -1`: the reader stops early; no error line, no traceback."""
    done = subprocess.run(f"{sys.executable} -m clinitui presets list | head -1", shell=True, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.stdout == "experiments:\n" and done.stderr == ""


def _groups(group, path=()):
    yield path, group
    for name, cmd in group.commands.items():
        if getattr(cmd, "commands", None):  # `models` is a group with no subcommand
            yield from _groups(cmd, (*path, name))


def test_help_shows_every_description_whole():
    """`clinitui --help` and each sub-app's: no description cut with "...", each first paragraph in full."""
    top = typer.main.get_command(app)
    seen = 0
    for path, group in _groups(top):
        result = runner.invoke(app, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, result.output
        commands = result.stdout.split("Commands:", 1)[1]
        assert "..." not in commands, f"clinitui {' '.join(path)} --help:\n{result.stdout}"
        flat = " ".join(commands.split())
        for name, cmd in group.commands.items():
            first = " ".join((cmd.help or "").partition("\n\n")[0].split())
            assert first and first in flat, (path, name)
            seen += 1
    assert seen >= 25  # the root's commands and those of runs, presets, sweep


@pytest.mark.parametrize("n, text", [
    (None, "-"), (0, "0"), (845, "845"), (999, "999"), (1_000, "1 k"), (12_345, "12.3 k"), (160_642, "161 k"),
    (845_000, "845 k"), (999_499, "999 k"), (999_500, "1 M"), (1_224_578, "1.22 M"), (110_622_722, "111 M"),
    (3_100_000_000, "3.1 B"),
])
def test_parameter_counts_for_people(n, text):
    assert fmt_params(n) == text


def test_aligned_rows_are_one_line_each_whatever_their_length():
    long = "x" * 300
    lines = aligned(["name", "value"], [["a", "0.886 [0.804, 0.974]"], [long, "1"]], right=(1,))
    assert lines == ["name".ljust(300) + "  " + "value".rjust(20),
                     "a".ljust(300) + "  0.886 [0.804, 0.974]",
                     long + "  " + "1".rjust(20)]
    assert aligned(None, [["a", "b"], ["ccc", "d"]], indent="  ") == ["  a    b", "  ccc  d"]


def test_the_baseline_verdict_is_a_sentence():
    from clinitui.engine.evaluate.stats import verdict

    same = {"delta_f1_macro": 0.0, "delta_f1_macro_ci": [-0.01, 0.02], "mcnemar_p": 0.8}
    better = {"delta_f1_macro": 0.1, "delta_f1_macro_ci": [0.05, 0.15], "mcnemar_p": 0.0001}
    assert verdict(same).startswith("No detectable difference between the model and the baseline: ΔF1 +0.000")
    assert verdict(better).startswith("The model beats the baseline")
    assert verdict(better, "blend", "tfidf").startswith("blend beats tfidf")  # a run's name keeps its case


def test_export_lists_the_files_it_wrote(root, tmp_path):
    """A blend's export holds tfidf/ too: the list printed is the folder's (``--json``'s ``files`` comes
    from the same reading of the folder, ``cli/export.written_files``)."""
    pytest.importorskip("onnxruntime")
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", str(root / "runs" / "blend"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "tfidf/tfidf.json" in on_disk and "model.onnx" in on_disk
    listed = [line.split()[0] for line in result.stderr.splitlines() if line.startswith("  ")]
    assert listed == on_disk
