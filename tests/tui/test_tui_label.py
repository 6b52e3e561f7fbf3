"""The labelling screen (clinitui/tui/screens/label.py): a snapshot, and keys pressed against a real journal."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from clinitui.labeling.journal import read_journal
from clinitui.labeling.pool import read_pool
from clinitui.labeling.session import Session
from clinitui.tui.screens.label import LabelApp

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pre_reshape"
GUIDE = "# Label guide\n\n* **1** — no cardiac failure\n* **2** — cardiac failure (dyspnée, œdème, BNP)\n"


def make_pool(folder: Path, n: int = 40) -> Path:
    lines = (FIXTURE / "notes.csv").read_text(encoding="utf-8").splitlines()[1:n + 1]
    path = folder / "pool.csv"
    path.write_text("id,text\n" + "".join(f"p{i:03d},{line.rsplit(',', 1)[0]}\n" for i, line in enumerate(lines)),
                    encoding="utf-8")
    return path


def session(folder: Path, **kw) -> Session:
    ckpt = folder / "tfidf"
    shutil.copytree(FIXTURE / "runs" / "tfidf" / "checkpoint", ckpt)
    (folder / "guide.md").write_text(GUIDE, encoding="utf-8")
    return Session(read_pool(make_pool(folder)), folder / "labels.jsonl", "ana", checkpoint=ckpt,
                   guide=folder / "guide.md", **kw)


def test_label_screen(snap_compare, tmp_path):
    s = session(tmp_path)

    async def before(pilot) -> None:
        await pilot.press("1", "2", "question_mark")  # two labels, then the guide panel
        await pilot.pause()

    try:
        assert snap_compare(LabelApp(s), terminal_size=(100, 24), run_before=before)
    finally:
        s.close()


def test_keys_write_the_journal_and_reopening_continues(tmp_path):
    s = session(tmp_path, retrain_every=0)
    first = [s.current()["id"]]

    async def go() -> None:
        async with LabelApp(s).run_test(size=(100, 24)) as pilot:
            await pilot.press("2")
            first.append(s.current()["id"])
            await pilot.press("1", "s", "1", "u")
            await pilot.pause()

    try:
        asyncio.run(go())
        _, records = read_journal(tmp_path / "labels.jsonl")
        assert [(r["kind"], r.get("label")) for r in records] == [("label", "1"), ("label", "0"), ("skip", None),
                                                                  ("label", "0"), ("undo", None)]
        assert records[0]["id"] == first[0] and records[1]["id"] == first[1]
        assert records[0]["score"] is not None  # the strategy's score is kept beside the label
        standing = dict(s.journal.state.labels["ana"])
        after_undo = s.current()["id"]  # the undone note comes back first
    finally:
        s.close()
    again = Session(read_pool(tmp_path / "pool.csv"), tmp_path / "labels.jsonl", "ana",
                    checkpoint=tmp_path / "tfidf")
    try:
        assert again.journal.state.labels["ana"] == standing
        assert again.current()["id"] not in standing and again.labelled() == 2
        assert after_undo not in standing
    finally:
        again.close()


def test_from_the_runs_screen_l_opens_the_labelling_screen_and_q_goes_back(tmp_path):
    from textual.widgets import Input

    from clinitui.labeling.journal import JournalLock
    from clinitui.tui.app import ClinituiApp
    from clinitui.tui.screens.label import LabelScreen
    from clinitui.tui.screens.runs import RunsScreen

    root = tmp_path / "runs"
    shutil.copytree(FIXTURE / "runs" / "tfidf", root / "tfidf")
    pool, journal = make_pool(tmp_path), tmp_path / "j.jsonl"

    async def go() -> None:
        app = ClinituiApp(root, planner=False, mode="runs")
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(200):
                if getattr(app.screen, "listed", 0):
                    break
                await asyncio.sleep(0.05)
            await pilot.press("l")
            await pilot.pause()
            app.screen.query_one("#lab-pool", Input).value = str(pool)
            app.screen.query_one("#lab-journal", Input).value = str(journal)
            await pilot.click("#lab-go")
            for _ in range(300):
                if isinstance(app.screen, LabelScreen):
                    break
                await asyncio.sleep(0.05)
            assert isinstance(app.screen, LabelScreen)
            await pilot.press("2", "q")
            await pilot.pause()
            assert isinstance(app.screen, RunsScreen)

    asyncio.run(go())
    _, records = read_journal(journal)
    assert [(r["kind"], r["label"]) for r in records] == [("label", "1")]
    JournalLock(journal).release()  # q released the journal: a new session may open it
