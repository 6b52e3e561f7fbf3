"""The labelling screen (``clinitui label``): one note at a time, the model's probabilities beside it.

Keys: ``1``–``9`` the classes (multi-label: toggle, then ``enter`` saves the set), ``s`` skip, ``u``
undo, ``r`` retrain the TF-IDF model now, ``f`` start the full recipe as a detached run, ``?`` the
site's label guide, ``q`` quit. Each label is appended to the journal (fsynced) before the next note
shows, so quitting, a killed terminal or a dropped SSH connection loses at most the note on screen;
reopening continues where it stopped. The fast retrain runs in a worker thread: the screen stays
live and the queue re-ranks when it ends. The note text is shown, never logged or written.
Opened from the runs screen (``l``, screens/label_start.py), ``q`` goes back to it.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Static

from clinitui.errors import ClinituiError

CSS = """
#label-top { height: 1; background: $boost; padding: 0 1; }
#label-body { height: 1fr; }
#label-note { width: 1fr; border: round $primary; padding: 0 1; }
#label-side { width: 34; border: round $secondary; padding: 0 1; }
#label-guide { display: none; width: 30; border: round $accent; }
#label-guide.shown { display: block; }
"""


def bar(p: float, width: int = 12) -> str:
    filled = int(round(p * width))
    return "█" * filled + "·" * (width - filled)


class LabelScreen(Screen):
    DEFAULT_CSS = CSS
    BINDINGS = [Binding(str(k), f"key_class({k - 1})", show=False) for k in range(1, 10)] + [
        Binding("enter", "save_set", "Save set", show=False),
        Binding("s", "skip", "Skip"), Binding("u", "undo", "Undo"), Binding("r", "retrain", "Retrain"),
        Binding("f", "full_run", "Full run"), Binding("question_mark", "guide", "Guide"), Binding("q", "quit", "Quit"),
    ]

    def __init__(self, session, runs_root: Path | None = None, standalone: bool = True) -> None:
        super().__init__()
        self.session, self.runs_root, self.standalone = session, runs_root, standalone
        self.pending: set[str] = set()
        self.training = False

    def compose(self) -> ComposeResult:
        yield Static("", id="label-top")
        with Horizontal(id="label-body"):
            with VerticalScroll(id="label-note"):
                yield Static("", id="label-text")
            with Vertical(id="label-side"):
                yield Static("", id="label-probs")
            with VerticalScroll(id="label-guide"):
                yield Markdown("", id="label-guide-md")
        yield Footer()

    def on_mount(self) -> None:
        guide = self.session.guide
        if guide is not None:
            self.query_one("#label-guide-md", Markdown).update(Path(guide).read_text(encoding="utf-8"))
        self.show()

    # -- drawing ------------------------------------------------------------------------------
    def show(self) -> None:
        s = self.session
        item = s.current()
        names = s.journal.label_names
        done = s.labelled()
        top = (f"{s.journal.annotator} · {done} labelled · {len(s.pool.ids)} in the pool · queue: {s.strategy}"
               + (" · retraining…" if self.training else ""))
        self.query_one("#label-top", Static).update(top)
        text = self.query_one("#label-text", Static)
        if item is None:
            text.update(Text("Every note of the pool is labelled or skipped. q: quit", style="bold"))
        else:
            text.update(Text(s.text(item)))
            self.query_one("#label-note", VerticalScroll).scroll_home(animate=False)
        self.query_one("#label-probs", Static).update(self.side(item, names))

    def side(self, item: dict | None, names: list[str]) -> Text:
        s = self.session
        out = Text()
        probs = dict(s.probabilities(item)) if item is not None and s.probabilities(item) else {}
        out.append("keys" + (" (toggle, enter saves)" if s.journal.multilabel else "") + "\n", style="bold")
        for k, name in enumerate(names):
            mark = "[x] " if name in self.pending else ("[ ] " if s.journal.multilabel else "")
            key = str(k + 1) if k < 9 else " "
            p = probs.get(name)
            out.append(f"{key} {mark}{name[:10]:<10}")
            out.append(f" {bar(p, 10)} {p:4.0%}\n" if p is not None else "\n")
        if item is not None:
            out.append(f"\nnote {item['id']} (row {item['row']})\n", style="dim")
        curve = s.journal.curve()
        if curve:
            out.append("\nvalidation F1 by labels\n", style="bold")
            for n, f1 in curve[-8:]:
                out.append(f"{n:>5} {bar(f1, 10)} {f1:.2f}\n")
        return out

    # -- acts ---------------------------------------------------------------------------------
    def _guarded(self, act) -> None:
        try:
            act()
        except ClinituiError as exc:
            self.notify(str(exc), severity="error")
        self.show()

    def action_key_class(self, k: int) -> None:
        names = self.session.journal.label_names
        if k >= len(names):
            return
        if self.session.journal.multilabel:
            self.pending ^= {names[k]}
            self.show()
            return
        self._guarded(lambda: self._label(names[k]))

    def action_save_set(self) -> None:
        if self.session.journal.multilabel:
            chosen = sorted(self.pending)
            self.pending = set()
            self._guarded(lambda: self._label(chosen))

    def _label(self, value) -> None:
        if self.session.label(value):
            self.action_retrain()

    def action_skip(self) -> None:
        self.pending = set()
        self._guarded(self.session.skip)

    def action_undo(self) -> None:
        self.pending = set()
        self._guarded(lambda: self.session.undo() or self.notify("nothing to undo"))

    def action_retrain(self) -> None:
        if not self.training:
            self.training = True
            self.retrain()

    @work(thread=True, exclusive=True, group="retrain")
    def retrain(self) -> None:
        try:
            fitted = self.session.fit()
            error = None
        except Exception as exc:  # a fit that fails must not end the labelling session
            fitted, error = None, type(exc).__name__
        self.app.call_from_thread(self._fitted, fitted, error)

    def _fitted(self, fitted, error: str | None) -> None:
        self.training = False
        if fitted is None:
            self.notify(f"retrain failed ({error})" if error else "not enough labels yet to fit a model "
                        "(at least 10, two classes)", severity="warning")
        else:
            self._guarded(lambda: self.session.apply(fitted))
            self.notify(f"model refitted on {fitted[2]} labels; queue re-ranked")
        self.show()

    def action_full_run(self) -> None:
        def start() -> None:
            path = self.session.launch_full(self.runs_root)
            self.notify(f"started run {path.name} on the labels so far (follow it with `clinitui runs show`)")

        self._guarded(start)

    def action_guide(self) -> None:
        if self.session.guide is None:
            self.notify("no label guide: start with --guide guide.md", severity="warning")
            return
        self.query_one("#label-guide").toggle_class("shown")

    def action_quit(self) -> None:
        if self.standalone:  # `clinitui label`: the command closes the session when the app ends
            self.app.exit()
            return
        self.session.close()  # opened from the runs screen: back to it, the journal unlocked
        self.app.pop_screen()


class LabelApp(App):
    """The labelling screen on its own (``clinitui label``)."""

    TITLE = "clinitui label"

    def __init__(self, session, runs_root: Path | None = None) -> None:
        super().__init__()
        self.session, self.runs_root = session, runs_root

    def on_mount(self) -> None:
        self.push_screen(LabelScreen(self.session, self.runs_root))
