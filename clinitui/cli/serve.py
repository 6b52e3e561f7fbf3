"""``clinitui serve``: the same console in a browser, through textual-serve.

Each browser tab starts its own ``clinitui tui`` process over the same runs root (the console
never trains in-process, so tabs only read run directories and start detached workers). The
server has no authentication of its own: it listens on 127.0.0.1 and the operator reaches it
through an SSH tunnel; another address needs ``--allow-remote`` and prints a warning. The page
(console_server.py) asks no other host for anything and works through a tunnel on any local port.
"""

from __future__ import annotations

import getpass
import ipaddress
import shlex
import socket
import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import boundary

Opt = typer.Option


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tunnel_hint(port: int) -> str:
    """The command to run on the operator's own computer to reach this server."""
    return f"ssh -L {port}:localhost:{port} {getpass.getuser()}@{socket.gethostname()}"


def _check_port(host: str, port: int) -> None:
    from clinitui.errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None


def serve_command(
    port: Annotated[int, Opt(help="Port to listen on.", min=1, max=65535)] = 8000,
    host: Annotated[str, Opt(help="Address to listen on; anything but loopback needs --allow-remote.")] = "127.0.0.1",
    allow_remote: Annotated[bool, Opt("--allow-remote", help="Listen on a non-loopback --host although the console has no authentication.")] = False,
    runs_root: Annotated[Optional[Path], Opt(help="Runs root [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")] = None,
) -> None:
    """Serve the operator's console to a web browser (127.0.0.1 only; reach it with an SSH tunnel)."""
    with boundary():
        from clinitui.errors import ConfigError

        remote = not is_loopback(host)
        if remote and not allow_remote:
            raise ConfigError(f"--host {host}: the console has no authentication of its own, so it listens on "
                              f"127.0.0.1 only; reach it with `{tunnel_hint(port)}`, or add --allow-remote")
        try:
            from clinitui.cli.console_server import ConsoleServer
        except ImportError:
            raise ConfigError("serving the console needs textual-serve; install it with pip install 'clinitui[serve]'") from None
        _check_port(host, port)
        command = [sys.executable, "-m", "clinitui", "tui"]
        if runs_root is not None:
            command += ["--runs-root", str(Path(runs_root).expanduser().resolve())]
        if remote:
            sys.stderr.write(f"WARNING: listening on {host}:{port} without authentication: anyone who can reach "
                             "this address can start and stop training runs and read their results\n")
        url_host = "localhost" if not remote else host
        sys.stdout.write(f"clinitui console on http://{url_host}:{port}\n"
                         f"from your computer: {tunnel_hint(port)}  then open http://localhost:{port}\n")
        sys.stdout.flush()
        ConsoleServer(shlex.join(command), host=host, port=port, title="clinitui",
                      public_url=f"http://{url_host}:{port}").serve()
