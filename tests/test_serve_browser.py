"""`clinitui serve` in a real browser: headless Chromium through an `ssh -L`-style tunnel, offline.

The operator reaches the console through a tunnel whose local port may differ from the server's
(`ssh -L 9000:localhost:8000`), on a laptop that may have no internet. So the browser here only
ever talks to a forwarder on another port, cannot resolve any name (--host-resolver-rules), and
the test asserts on what it shows: the console's first screen read from xterm.js's own buffer,
every request (page, script, font, websocket) addressed to the forwarder, none failed, the
console's font loaded from it, and no script error. Driven over the Chrome DevTools Protocol with
aiohttp (textual-serve's own dependency), so no browser-automation package is needed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("textual_serve")
from tests.test_serve import free_port, start, stop, wait_http  # noqa: E402

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = [
    pytest.mark.slow, pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: the browser tier needs the distribution's "
                                                "chromium (apt-get install chromium; .ci/run installs it)"),
]
FIRST_SCREEN = "New training run"  # a label of the console's launch screen

# Runs before the page's own scripts: textual.js keeps its xterm.js Terminal in `this.terminal` of an
# object nothing global refers to, so an accessor on Object.prototype catches that assignment (and
# turns it back into a plain property), letting the test read the screen the browser drew.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    try { if (value && typeof value.buffer.active.getLine === "function") window.__consoleTerminal = value; }
    catch (e) {}
  },
});
"""
READ_SCREEN = """(() => {
  const t = window.__consoleTerminal;
  if (!t) return null;
  const b = t.buffer.active, lines = [];
  for (let i = 0; i < t.rows; i++) {
    const line = b.getLine(b.viewportY + i);
    lines.push(line ? line.translateToString(true) : "");
  }
  return {cols: t.cols, rows: t.rows, text: lines.join("\\n"),
          fonts: [...document.fonts].filter(f => f.status === "loaded").map(f => f.family.replace(/"/g, "")),
          drawn: !!document.querySelector(".xterm-screen canvas")};
})()"""


class Forwarder:
    """`ssh -L` in miniature: listens on its own port and pipes each connection to the server's."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.connections = target_port, 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._pipe, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _pipe(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        await asyncio.gather(copy(client_r, server_w), copy(server_r, client_w))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


class DevTools:
    """The few Chrome DevTools Protocol calls the test needs, over one page's websocket."""

    def __init__(self, ws) -> None:
        self.ws, self.next_id, self.pending, self.events = ws, 0, {}, []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            payload = json.loads(message.data)
            if "id" in payload:
                self.pending.pop(payload["id"]).set_result(payload)
            else:
                self.events.append((payload["method"], payload.get("params", {})))

    async def send(self, method: str, **params) -> dict:
        self.next_id += 1
        reply = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = reply
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        payload = await asyncio.wait_for(reply, 30)
        assert "error" not in payload, (method, payload["error"])
        return payload["result"]

    def of(self, method: str) -> list[dict]:
        return [params for name, params in self.events if name == method]


def launch_chromium(profile: Path) -> tuple[subprocess.Popen, int]:
    """Headless Chromium that resolves no name (only 127.0.0.1 is reachable) and says its CDP port."""
    proc = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--window-size=1200,800",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    active = profile / "DevToolsActivePort"
    deadline = time.time() + 60
    while not (active.exists() and active.read_text().strip()):
        assert proc.poll() is None and time.time() < deadline, "chromium did not start its DevTools endpoint"
        time.sleep(0.2)
    return proc, int(active.read_text().split()[0])


async def open_console(cdp_port: int, url: str, timeout: float = 90.0) -> tuple[dict | None, DevTools]:
    """Open `url` in the browser's page; return what the terminal shows once the first screen is drawn."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{cdp_port}/json/list") as response:
            page = next(t for t in await response.json() if t["type"] == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = DevTools(ws)
            for domain in ("Network", "Page", "Runtime", "Log"):
                await cdp.send(f"{domain}.enable")
            await cdp.send("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
            await cdp.send("Page.navigate", url=url)
            screen, deadline = None, time.time() + timeout
            while time.time() < deadline:
                result = await cdp.send("Runtime.evaluate", expression=READ_SCREEN, returnByValue=True)
                screen = result["result"].get("value")
                if screen and FIRST_SCREEN in screen["text"]:
                    break
                await asyncio.sleep(0.5)
            cdp.reader.cancel()
            return screen, cdp


def test_console_renders_through_a_tunnel_on_another_port_without_internet(tmp_path):
    began = time.monotonic()
    port = free_port()
    server = start(tmp_path, "--port", str(port))
    tunnel = browser = None
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        tunnel = Forwarder(port)
        assert tunnel.port != port
        browser, cdp_port = launch_chromium(tmp_path / "profile")
        screen, cdp = asyncio.run(open_console(cdp_port, f"http://127.0.0.1:{tunnel.port}/"))
    finally:
        if browser is not None:
            browser.terminate()
            browser.wait(30)
        if tunnel is not None:
            tunnel.close()
        stop(server)

    requested = [p["request"]["url"] for p in cdp.of("Network.requestWillBeSent")]
    sockets = [p["url"] for p in cdp.of("Network.webSocketCreated")]
    assert screen is not None, f"the page never built its terminal; it asked for {requested + sockets}"
    assert FIRST_SCREEN in screen["text"] and "Backbone" in screen["text"], screen["text"]
    assert screen["cols"] >= 80 and screen["rows"] >= 24 and screen["drawn"]
    elsewhere = [u for u in requested + sockets if urlsplit(u).netloc != f"127.0.0.1:{tunnel.port}"
                 and urlsplit(u).scheme not in ("data", "blob")]
    assert not elsewhere, f"requests that bypass the tunnel: {elsewhere}"
    assert [urlsplit(u)[:3] for u in sockets] == [("ws", f"127.0.0.1:{tunnel.port}", "/ws")]
    assert not cdp.of("Network.loadingFailed"), cdp.of("Network.loadingFailed")
    assert any(u.endswith("/static/fonts/RobotoMono-VariableFont_wght.ttf") for u in requested)
    assert "Roboto Mono" in screen["fonts"]
    errors = [(e["entry"]["text"], e["entry"].get("url")) for e in cdp.of("Log.entryAdded") if e["entry"]["level"] == "error"]
    assert not cdp.of("Runtime.exceptionThrown") and not errors, (cdp.of("Runtime.exceptionThrown"), errors)
    assert tunnel.connections >= 2  # the page and the websocket both came through the forwarder
    print(f"browser test: {time.monotonic() - began:.1f} s, {len(requested)} requests, "
          f"{screen['cols']}x{screen['rows']} terminal")
