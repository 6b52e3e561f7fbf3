"""textual-serve's Server with a page that works offline and through any SSH tunnel.

textual-serve's own page has two habits that break on an operator's laptop: it asks
fonts.googleapis.com for its font (a request leaving the machine; offline the browser falls back),
and it writes absolute ``http://localhost:PORT/...`` and ``ws://localhost:PORT/ws`` addresses, so an
``ssh -L 9000:localhost:8000`` tunnel (another local port) loads a page whose script and websocket
point at a port nothing listens on. This server renders its own page instead: every address is
relative to the page (the websocket's is built from ``window.location`` in the browser), and the
font is the Roboto Mono that textual-serve ships in its static folder, served by this server.
Only the page changes; the routes, the websocket protocol and textual.js are textual-serve's.

Imported only by ``clinitui serve`` (textual-serve is an optional dependency).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "console_page.html.j2"
FONT_FAMILY = "Roboto Mono"  # the family textual.js asks xterm.js for; its @font-face comes from here


class ConsoleServer(Server):
    """Serve ``command`` per browser tab; the page is ours (see the module docstring)."""

    def __init__(self, command: str, *, host: str, port: int, title: str, public_url: str) -> None:
        super().__init__(command, host=host, port=port, title=title, public_url=public_url,
                         templates_path=TEMPLATES)

    def local_fonts(self) -> list[dict[str, str]]:
        """The Roboto Mono files in textual-serve's static folder, as relative URLs.

        Looked up rather than named, so a textual-serve that renames or drops them leaves the
        page on the system's monospace font instead of a broken link.
        """
        folder = Path(self.statics_path) / "fonts"
        return [{"url": f"static/fonts/{path.name}", "style": "italic" if "Italic" in path.name else "normal"}
                for path in sorted(folder.glob(f"{FONT_FAMILY.replace(' ', '')}*.ttf"))]

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        context: dict[str, Any] = {
            "title": self.title,
            "font_family": FONT_FAMILY,
            "fonts": self.local_fonts(),
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
        }
        return aiohttp_jinja2.render_template(PAGE, request, context)
