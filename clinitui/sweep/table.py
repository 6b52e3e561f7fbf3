"""The study's table: every trial read from its run directory, grouped over seeds, ranked on validation.

Torch-free: ``sweep show`` and the TUI read the journal, ``metrics.json`` and ``events.jsonl``
only. Trials are ranked on validation macro-F1 (the test column sits beside it, never used to
choose), the best finished configuration is marked, and the TF-IDF baseline is its own row.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

from clinitui.fmt import aligned, fmt_params
from clinitui.sweep import journal as J
from clinitui.sweep.trial import trial_dir

TEST_KEYS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def trial_row(sweep_dir: Path, record: dict) -> dict:
    """One trial as the JSON of `sweep show --json` (and a few extra test metrics for the table)."""
    from clinitui.runs import summarize

    path = trial_dir(sweep_dir, record["name"])
    status, error = record["status"], record.get("error")
    metrics = _read_json(path / "metrics.json") or {}
    peak = None
    if path.is_dir():
        summary = summarize(path)
        peak = summary.peak_memory_bytes
        if status in ("queued", "running"):  # the journal's word is stale once the worker is gone
            status = {"running": "running", "finished": "finished", "created": "queued"}.get(summary.status, "interrupted")
            if summary.status == "failed":
                status, error = "failed", summary.error
    test = metrics.get("metrics") or {}
    params = metrics.get("params") or {}
    row = {
        "name": record["name"], "status": status, "run_dir": str(path) if path.is_dir() else None,
        "settings": record.get("settings", {}), "seed": record.get("seed"),
        "val_f1_macro": (metrics.get("val_metrics") or {}).get("f1_macro"),
        "test_f1_macro": test.get("f1_macro"),
        "test_accuracy": test.get("accuracy"), "test_precision_macro": test.get("precision_macro"),
        "test_recall_macro": test.get("recall_macro"),
        "test_f1_macro_ci": test.get("f1_macro_ci"),  # present once the evaluation report adds intervals
        "train_seconds": metrics.get("train_seconds"),
        "params_trainable": params.get("trainable"), "params_total": params.get("total"),
        "peak_memory_bytes": peak or metrics.get("peak_host_rss_bytes"),
        "error": error,
    }
    return row


def baseline_row(sweep_dir: Path) -> dict | None:
    doc = _read_json(Path(sweep_dir) / J.BASELINE_FILE)
    if not doc or not doc.get("splits"):
        return None
    split = doc["splits"][0]
    test, val = split["test"], split["val"]
    return {"name": "baseline", "method": test.get("method"), "val_f1_macro": val["f1_macro"],
            "test_f1_macro": test["f1_macro"], "test_accuracy": test["accuracy"],
            "test_precision_macro": test["precision_macro"], "test_recall_macro": test["recall_macro"],
            "test_f1_macro_ci": test.get("f1_macro_ci"), "splits": len(doc["splits"])}


def _rank_key(row: dict):
    return (row.get("val_f1_macro") is None, -(row.get("val_f1_macro") or 0.0), row["name"])


def collect(sweep_dir: Path) -> dict:
    """The payload of ``clinitui sweep show DIR --json``."""
    sweep_dir = Path(sweep_dir)
    events = J.read_journal(sweep_dir)
    records = J.trial_records(events)
    rows = sorted((trial_row(sweep_dir, r) for r in records.values()), key=_rank_key)
    groups = group(rows)
    mode = next((e.get("mode") for e in reversed(events) if e["type"] == "sweep_started"), None)
    backend = next((e.get("backend") for e in reversed(events) if e["type"] == "sweep_started"), None)
    return {"sweep_dir": str(sweep_dir), "status": J.sweep_status(sweep_dir, events), "mode": mode,
            "backend": backend, "baseline": baseline_row(sweep_dir), "trials": rows, "groups": groups}


def _mean_sd(values: list) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def group(rows: list[dict]) -> list[dict]:
    """Trials with the same settings (different seeds) as one row: mean ± sd, ranked on validation."""
    by: dict[str, list[dict]] = {}
    for row in rows:
        by.setdefault(json.dumps(row["settings"], sort_keys=True), []).append(row)
    out = []
    for members in by.values():
        done = [r for r in members if r["status"] == "finished"]
        g = {"settings": members[0]["settings"], "seeds": [r["seed"] for r in members], "n_finished": len(done),
             "statuses": sorted({r["status"] for r in members}),
             "errors": sorted({r["error"].splitlines()[0][:160] for r in members if r.get("error")})}
        for key in ("val_f1_macro", "test_f1_macro", "test_accuracy", "test_precision_macro", "test_recall_macro",
                    "train_seconds"):
            g[key], g[key + "_sd"] = _mean_sd([r[key] for r in done])
        cis = [r["test_f1_macro_ci"] for r in done if r.get("test_f1_macro_ci")]
        g["test_f1_macro_ci"] = cis[0] if len(done) == 1 and cis else None
        g["params_trainable"] = next((r["params_trainable"] for r in done if r["params_trainable"]), None)
        g["params_total"] = next((r["params_total"] for r in done if r["params_total"]), None)
        g["peak_memory_bytes"] = max((r["peak_memory_bytes"] for r in members if r["peak_memory_bytes"]), default=None)
        out.append(g)
    out.sort(key=lambda g: (g["val_f1_macro"] is None, -(g["val_f1_macro"] or 0.0), json.dumps(g["settings"])))
    if out and out[0]["val_f1_macro"] is not None:
        out[0]["best"] = True
    return out


# -- rendering --------------------------------------------------------------------------------------
def _num(value, sd=None, digits=3) -> str:
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    return text + (f"±{sd:.{digits}f}" if sd is not None else "")


def _ci(ci) -> str:
    """``[lo, hi]`` or ``{"low": lo, "high": hi}`` (however the evaluation report writes it) → ``lo-hi``."""
    if isinstance(ci, dict):
        ci = [ci.get("low", ci.get("lo")), ci.get("high", ci.get("hi"))]
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(x, (int, float)) for x in ci):
        return f"{ci[0]:.3f}-{ci[1]:.3f}"
    return "-"


def _setting(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _bytes(value) -> str:
    if not value:
        return "-"
    return f"{value / 2**20:.0f}M" if value < 2**30 else f"{value / 2**30:.1f}G"


def _params(trainable, total) -> str:
    return "-" if not total else f"{fmt_params(trainable)} / {fmt_params(total)}"


def render(payload: dict) -> str:
    """The study's table as aligned plain text, never wrapped (``clinitui sweep show``)."""
    groups = payload["groups"]
    keys = list(dict.fromkeys(k for g in groups for k in g["settings"]))
    head = ["", *keys, "seeds", "val F1", "test F1", "95% CI", "acc", "prec", "rec", "train s", "params", "peak", "status"]
    lines = []
    for g in groups:
        ci_text = _ci(g.get("test_f1_macro_ci"))
        status = ",".join(g["statuses"]) + (f": {g['errors'][0]}" if g["errors"] and g["n_finished"] == 0 else "")
        lines.append(["*" if g.get("best") else "", *(_setting(g["settings"].get(k, "")) for k in keys), str(len(g["seeds"])),
                      _num(g["val_f1_macro"], g["val_f1_macro_sd"]), _num(g["test_f1_macro"], g["test_f1_macro_sd"]),
                      ci_text, _num(g["test_accuracy"]), _num(g["test_precision_macro"]), _num(g["test_recall_macro"]),
                      _num(g["train_seconds"], digits=1), _params(g["params_trainable"], g["params_total"]),
                      _bytes(g["peak_memory_bytes"]), status])
    b = payload.get("baseline")
    if b:
        lines.append(["", "baseline TF-IDF", *[""] * (len(keys) - 1), "", _num(b["val_f1_macro"]), _num(b["test_f1_macro"]),
                      _ci(b.get("test_f1_macro_ci")),
                      _num(b["test_accuracy"]), _num(b["test_precision_macro"]), _num(b["test_recall_macro"]),
                      "", "", "", "reference"])
    counts: dict[str, int] = {}
    for t in payload["trials"]:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return "\n".join([f"sweep {payload['sweep_dir']} ({payload['status']}; {summary}); ranked on validation macro-F1, "
                      "* = best", *aligned(head, lines)]) + "\n"


def to_csv(payload: dict) -> str:
    """One line per trial, settings flattened into columns."""
    keys = list(dict.fromkeys(k for t in payload["trials"] for k in t["settings"]))
    cols = ["name", "status", *keys, "seed", "val_f1_macro", "test_f1_macro", "test_accuracy", "test_precision_macro",
            "test_recall_macro", "train_seconds", "params_trainable", "params_total", "peak_memory_bytes", "run_dir", "error"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(cols)
    for t in payload["trials"]:
        writer.writerow([t["settings"].get(c, "") if c in keys else ("" if t.get(c) is None else t.get(c)) for c in cols])
    b = payload.get("baseline")
    if b:
        writer.writerow(["baseline", "reference", *[""] * len(keys), "", b["val_f1_macro"], b["test_f1_macro"],
                         b["test_accuracy"], b["test_precision_macro"], b["test_recall_macro"], "", "", "", "", "", ""])
    return buf.getvalue()
