"""`clinitui serve`: the console through textual-serve, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app

pytest.importorskip("textual_serve")
runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CLINITUI_RUNS_ROOT": str(tmp_path / "runs"), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "clinitui", "serve", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    os.killpg(proc.pid, signal.SIGTERM)  # the server and every console it started
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()


def wait_http(url: str, timeout: float = 60.0) -> str:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.3)


async def first_screen(port: int, timeout: float = 90.0) -> str:
    """What a browser tab receives: the launch screen, drawn by a console process of its own."""
    import aiohttp

    seen = b""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{port}/ws?width=100&height=30") as ws:
            deadline = time.time() + timeout
            while b"New training run" not in seen and time.time() < deadline:
                try:
                    message = await ws.receive(timeout=5)
                except asyncio.TimeoutError:
                    continue
                if message.type == aiohttp.WSMsgType.BINARY:
                    seen += message.data
                elif message.type == aiohttp.WSMsgType.TEXT:
                    seen += message.data.encode()
                elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
    return seen.decode("utf-8", errors="replace")


def test_serves_the_console_on_loopback_and_prints_the_tunnel(tmp_path):
    port = free_port()
    proc = start(tmp_path, "--port", str(port))
    try:
        page = wait_http(f"http://127.0.0.1:{port}/")
        assert "textual" in page.lower() and "clinitui" in page
        # every address relative to the page, nothing from another host (tests/test_serve_browser.py
        # checks the same in a real browser): a tunnel on any local port and no internet both work
        assert not re.findall(r'(?:src|href|url)[=(]"(?:[a-z]+:)?//', page) and "ws://" not in page
        assert 'src: url("static/fonts/RobotoMono' in page
        assert "New training run" in asyncio.run(first_screen(port))
        with socket.socket() as s:  # bound to loopback only: the machine's other addresses refuse
            addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
            outside = sorted(a for a in addresses if not a.startswith("127."))
            if outside:
                assert s.connect_ex((outside[0], port)) != 0
    finally:
        out, err = stop(proc)
    assert f"ssh -L {port}:localhost:{port}" in out


def test_non_loopback_host_needs_allow_remote(tmp_path):
    refused = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", str(free_port())])
    assert refused.exit_code == 2 and "--allow-remote" in refused.stderr and "ssh -L" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    port = free_port()
    proc = start(tmp_path, "--host", "0.0.0.0", "--port", str(port), "--allow-remote")
    try:
        wait_http(f"http://127.0.0.1:{port}/")
    finally:
        out, err = stop(proc)
    assert "WARNING" in err and "without authentication" in err


def test_busy_port_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        result = runner.invoke(app, ["serve", "--port", str(s.getsockname()[1])])
    assert result.exit_code == 2 and "choose another --port" in result.stderr
