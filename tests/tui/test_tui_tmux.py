"""The console in a real terminal (tmux): training survives the terminal, and a reopened console finds it.

Keyboard only, as over SSH: type the dataset path, ctrl+s (default settings); then the tmux
session is killed (the terminal goes away, like a dropped SSH connection), the worker must still
be alive and finish its run, and a new console must list the run as finished.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
    pytest.mark.slow,  # about a minute on a busy 2-core machine: two consoles and a real training run
]



class Tmux:
    """A private tmux server (its own socket), so the test never touches the user's sessions."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def screen(self, session: str) -> str:
        return self("capture-pane", "-p", "-t", session)

    def wait_for(self, session: str, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(session)
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"'{text}' never appeared; the screen was:\n{screen}")
            time.sleep(0.3)

    def open_console(self, session: str, root: Path) -> None:
        cmd = f"{sys.executable} -m clinitui tui --runs-root {root}"
        env = ["-e", f"CLINITUI_RUNS_ROOT={root}", "-e", "TERM=xterm-256color"]
        self("new-session", "-d", "-s", session, "-x", "100", "-y", "30", *env, cmd)


def test_training_survives_the_terminal_and_is_found_again(tmp_path, small_csv):
    root = tmp_path / "runs"
    tmux = Tmux(f"clinitui-test-{os.getpid()}")
    worker_pid = None
    try:
        tmux.open_console("first", root)
        tmux.wait_for("first", "New training run", 30)
        tmux("send-keys", "-t", "first", "-l", str(small_csv))
        tmux.wait_for("first", "240 notes", 30)  # the preview read the file
        tmux.wait_for("first", "ready: ctrl+s", 30)
        tmux("send-keys", "-t", "first", "C-s")
        tmux.wait_for("first", "starting worker", 30)  # the run screen, before the worker's first event
        tmux.wait_for("first", "● running", 90)
        tmux.wait_for("first", "loss per step", 60)  # the live chart has its first points

        run_dir = next(root.iterdir())
        worker_pid = int((run_dir / "worker.pid").read_text())
        console_pid = int(tmux("display-message", "-p", "-t", "first", "#{pane_pid}").strip())
        tmux("kill-session", "-t", "first")  # the terminal disappears, as with a dropped SSH session

        deadline = time.monotonic() + 10
        while _alive(console_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(console_pid), "the console should have gone with its terminal"
        assert _alive(worker_pid), "the worker must survive the terminal"

        events = _wait_for_final_event(run_dir, timeout=180)
        assert events[-1]["type"] == "run_finished"

        tmux.open_console("second", root)
        tmux.wait_for("second", "New training run", 30)
        tmux("send-keys", "-t", "second", "C-r")
        tmux.wait_for("second", "finished", 30)
        tmux("send-keys", "-t", "second", "Enter")
        screen = tmux.wait_for("second", "● finished", 30)
        assert run_dir.name in screen
        tmux("send-keys", "-t", "second", "C-q")
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)
        if worker_pid is not None and _alive(worker_pid):
            os.kill(worker_pid, 15)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # an exited process nobody reaped yet (a zombie) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _wait_for_final_event(run_dir: Path, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = run_dir / "events.jsonl"
        if path.exists():
            events = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
            if events and events[-1]["type"] in ("run_finished", "run_failed", "stopped"):
                return events
        time.sleep(0.5)
    raise AssertionError(f"the run did not finish in {timeout:.0f} s")
