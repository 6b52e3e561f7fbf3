"""The search's one table: ``budget.json`` (written after every candidate) and its plain-text rendering.

One row per candidate, in the order they were tried: what it is, its status (finished, stopped,
skipped, failed, running), its validation score with the 95 % bootstrap interval, its wall time
(and the estimate it was started or skipped on), and a note (why skipped or stopped). Then the kept
candidate and why. Only names, numbers and the search's own words: never note text.
"""

from __future__ import annotations

from pathlib import Path

from clinitui.fmt import fmt_duration, fmt_metric
from clinitui.timebudget import layout as L

COLUMNS = ("name", "what", "status", "val_score", "val_ci", "wall_s", "estimate_s", "run_dir", "note")


def payload(path: Path, results: dict[str, dict], budget_s: float, spent_s: float, status: str) -> dict:
    best = L.read_best(path) or {}
    rows = []
    for name, rec in results.items():
        row = {key: rec.get(key) for key in COLUMNS}
        row["name"] = name
        row["kept"] = name == best.get("name")
        rows.append(row)
    return {"search_dir": str(path), "status": status, "budget_s": round(budget_s, 1), "spent_s": round(spent_s, 1),
            "metric": best.get("metric", "macro-F1 (argmax)"), "split": "validation",
            "candidates": rows, "kept": best.get("name"), "kept_run": best.get("run_dir"),
            "reason": best.get("reason")}


def render(doc: dict) -> str:
    """The table as plain lines (the CLI's output)."""
    lines = [f"time budget {fmt_duration(doc['budget_s'])}, used {fmt_duration(doc['spent_s'])} ({doc['status']}); "
             f"scores: validation {doc['metric']}, 95% bootstrap interval"]
    header = f"  {'candidate':<22} {'status':<9} {'val score':>9}  {'95% interval':<15} {'time':>7} {'est.':>7}  note"
    lines.append(header)
    for row in doc["candidates"]:
        ci = row.get("val_ci")
        interval = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-"
        mark = "*" if row.get("kept") else " "
        note = row.get("note") or ""
        lines.append(f"{mark} {row['name']:<22} {row.get('status') or '-':<9} {fmt_metric(row.get('val_score')):>9}  "
                     f"{interval:<15} {fmt_duration(row.get('wall_s')):>7} {fmt_duration(row.get('estimate_s')):>7}  "
                     f"{note}".rstrip())
    for row in doc["candidates"]:
        if row.get("what"):
            lines.append(f"  {row['name']}: {row['what']}")
    if doc.get("kept"):
        lines.append(f"kept (*): {doc['kept']}, {doc['reason']}")
        lines.append(f"model: {Path(doc['search_dir']) / doc['kept_run']}")
    else:
        lines.append("kept: none yet (no candidate has finished)")
    return "\n".join(lines) + "\n"
