"""``clinitui suggest`` and ``clinitui label status|export``: active learning from the command line.

``clinitui label`` itself (the labelling screen) is registered in cli/app.py, the one CLI module
that may open the console; it prepares the session with :func:`open_session` here first, so bad
input stops with one line before any screen is drawn.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import FullHelpGroup, announce, boundary, print_json
from clinitui.labeling import HOLD_OUT_EVERY, ID_COL

Opt = typer.Option
Arg = typer.Argument
PoolOpt = Annotated[Path, Opt("--pool", help="The notes to label: CSV, TSV, JSONL or Parquet with an id column.")]
IdOpt = Annotated[str, Opt("--id-col", help="Column with each note's unique id (the journal records ids, never text).")]
TextOpt = Annotated[str, Opt("--text-col", help="Column with the note text.")]
JournalsOpt = Annotated[List[Path], Opt("--labels", help="Label journal(s) written by `clinitui label`; repeat to merge annotators.")]
RootOpt = Annotated[Optional[Path], Opt("--runs-root", help="Where run names are looked up [default: "
                                                            "$CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")]

label_app = typer.Typer(cls=FullHelpGroup, no_args_is_help=False, invoke_without_command=True,
                        help="Label notes in the console (one at a time, model beside them); `status` and `export` "
                             "read the journal.")


def _pool(pool: Path, id_col: str, text_col: str):
    from clinitui.labeling.pool import read_pool

    return read_pool(pool, id_col=id_col, text_col=text_col)


def suggest_command(
    run: Annotated[Optional[str], Arg(help="A run (name, prefix, `last`, folder) or checkpoint/ folder; none: cold start.")] = None,
    pool: PoolOpt = ...,
    n: Annotated[int, Opt("--n", min=1, help="How many notes to suggest.")] = 50,
    strategy: Annotated[Optional[str], Opt("--strategy", help="breaking-ties, entropy, least-confidence, coreset, random "
                                                              "[default: breaking-ties; kmeans without a run].")] = None,
    labels: Annotated[Optional[Path], Opt("--labels", help="A journal: leave out the notes it already labelled or skipped.")] = None,
    out: Annotated[Optional[Path], Opt("--out", "-o", help="Write the CSV here; default: stdout.")] = None,
    json_out: Annotated[bool, Opt("--json", help="JSON on stdout instead of CSV.")] = False,
    seed: Annotated[int, Opt("--seed", help="Seed of random, coreset and kmeans.")] = 0,
    id_col: IdOpt = ID_COL,
    text_col: TextOpt = "text",
    runs_root: RootOpt = None,
) -> None:
    """The next notes to label, in order: rank, id, pool row, and the score that chose each."""
    with boundary():
        from clinitui.labeling.suggest import handled_ids, rank, score_pool
        from clinitui.names import resolve_checkpoint

        ckpt = announce(resolve_checkpoint(run, runs_root)) if run else None
        the_pool = _pool(pool, id_col, text_col)
        scores = score_pool(ckpt, the_pool.texts) if ckpt is not None else None
        rows = rank(the_pool, n, strategy, scores, handled_ids(labels, the_pool), seed=seed)
        if json_out:
            print_json({"pool": str(pool), "strategy": strategy or ("breaking-ties" if ckpt else "kmeans"),
                        "suggestions": rows})
            return
        fh = open(out, "w", encoding="utf-8", newline="") if out else sys.stdout
        try:
            w = csv.DictWriter(fh, fieldnames=["rank", "id", "row", "score"])
            w.writeheader()
            w.writerows(rows)
        finally:
            if out:
                fh.close()
                sys.stderr.write(f"wrote {len(rows)} suggestions to {out}\n")


def open_session(pool: Path, labels: Path, annotator: str, run: Optional[str], classes: Optional[str],
                 multilabel: bool, guide: Optional[Path], retrain_every: int, strategy: Optional[str],
                 id_col: str, text_col: str, runs_root: Optional[Path], hold_out_every: int = HOLD_OUT_EVERY):
    """The session the screen works on (labeling/session.py), every input checked; raises ClinituiError."""
    from clinitui.labeling.session import Session
    from clinitui.names import resolve_checkpoint

    ckpt = announce(resolve_checkpoint(run, runs_root)) if run else None
    names = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    return Session(_pool(pool, id_col, text_col), labels, annotator, checkpoint=ckpt, classes=names,
                   multilabel=multilabel, guide=guide, retrain_every=retrain_every, strategy=strategy,
                   hold_out_every=hold_out_every)


@label_app.command("export")
def export_command(
    pool: PoolOpt,
    labels: JournalsOpt,
    to: Annotated[Path, Opt("--to", help="The training file to write (CSV: id, text, label).")],
    id_col: IdOpt = ID_COL,
    text_col: TextOpt = "text",
) -> None:
    """Merge the journal(s) with the pool into a training file; notes annotators disagree on are listed, left out."""
    with boundary():
        from clinitui.labeling.export import MIN_HELD_OUT, export

        result = export(labels, _pool(pool, id_col, text_col), to)
        sys.stderr.write(f"wrote {result['written']} labelled notes to {to}\n")
        if result["split_col"]:
            sys.stderr.write(f"split column 'split': the {result['held_out']} notes drawn at random are dev and test, "
                             f"the rest train (train with --split-col split)\n")
        elif result["held_out"]:
            sys.stderr.write(f"no split column: {result['held_out']} notes drawn at random, fewer than {MIN_HELD_OUT} "
                             "(label more to get a dev and test split the strategy did not choose)\n")
        if result["conflicts"]:
            sys.stderr.write(f"{len(result['conflicts'])} note(s) left out: annotators disagree (resolve them and "
                             "export again):\n")
            for c in result["conflicts"]:
                given = "; ".join(f"{a}={v}" for a, v in sorted(c["labels"].items()))
                sys.stderr.write(f"  conflict id {c['id']}: {given}\n")


@label_app.command("status")
def status_command(
    pool: PoolOpt,
    labels: JournalsOpt,
    json_out: Annotated[bool, Opt("--json", help="Print as JSON.")] = False,
    id_col: IdOpt = ID_COL,
    text_col: TextOpt = "text",
) -> None:
    """Counts per class and annotator; Cohen's kappa with a 95% bootstrap interval where annotators overlap."""
    with boundary():
        from clinitui.labeling.status import status

        s = status(labels, _pool(pool, id_col, text_col))
        if json_out:
            print_json(s)
            return
        print(f"labelled {s['labelled']} of {s['pool_size']} notes")
        print("per class:     " + ", ".join(f"{k} {v}" for k, v in s["classes"].items()))
        print("per annotator: " + ", ".join(f"{k} {v}" for k, v in s["annotators"].items()))
        for a in s["agreement"]:
            print(f"agreement {a['annotators'][0]} vs {a['annotators'][1]} on {a['notes']} notes: "
                  f"kappa {a['kappa']:.2f} (95% CI {a['low']:.2f}–{a['high']:.2f})")
        if not s["agreement"]:
            print("agreement: no two annotators labelled the same notes yet")

