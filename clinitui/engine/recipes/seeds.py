"""``clinitui train --seeds N``: N runs differing only in seed, reported as mean ± sd, plus their average.

Small clinical sets move by several points of macro-F1 between seeds, so one run says little.
A seed group is a directory::

    <group>/seed-42/  seed-43/ ...   ordinary run directories (run.toml, events.jsonl, checkpoint/ ...)
    <group>/checkpoint/config.json   the seed-averaged ensemble: ``members`` lists the member
                                     checkpoints (relative paths inside the group); what it predicts
                                     is the mean of their probabilities (engine/inference/predictor.py)
    <group>/seeds.json               mean ± sd of test and val metrics, every run, the averaged
                                     checkpoint's own test and val metrics (also ``train --json``)

The runs are sequential in this process; the data are read and split once (the split does not
depend on the training seed), so every member sees exactly the same train / val / test notes. Each
member is an ordinary run of its recipe (engine/recipes/dispatch.py), set up by its scaffold
(engine/recipes/scaffold.py); the group folder itself holds only the averaged checkpoint and seeds.json.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Callable

from clinitui.config.schema import RunConfig
from clinitui.rundir import write_private

SUMMARY_KEYS = ("f1_macro", "accuracy", "f1_weighted")


def mean_sd(values: list[float]) -> dict:
    values = [float(v) for v in values]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd, "values": values}


def group_checkpoint(group: Path, members: list[Path]) -> Path:
    """Write ``group/checkpoint/config.json`` listing ``members`` (the averaged ensemble; no weights)."""
    from clinitui.engine.checkpoint.format import group_config, read_config, write_config

    cfg = group_config(read_config(members[0]), [str(Path("..") / m.relative_to(group)) for m in members])
    ckpt = group / "checkpoint"
    ckpt.mkdir(mode=0o700, exist_ok=True)
    write_config(ckpt, cfg)
    return ckpt


def summarize_group(payloads: list[dict]) -> dict:
    """mean ± sd over the runs of test (``metrics``), val, network-alone and baseline scores."""
    out: dict[str, dict] = {}
    for key in SUMMARY_KEYS:
        out[key] = mean_sd([p["metrics"][key] for p in payloads])
        out["val_" + key] = mean_sd([p["val_metrics"][key] for p in payloads])
    if all(p.get("network") for p in payloads):
        out["network_f1_macro"] = mean_sd([p["network"]["f1_macro"] for p in payloads])
        out["network_val_f1_macro"] = mean_sd([p["network_val"]["f1_macro"] for p in payloads])
    if all(p.get("baseline") for p in payloads):
        out["baseline_f1_macro"] = mean_sd([p["baseline"]["f1_macro"] for p in payloads])
    out["wall_seconds"] = mean_sd([p["wall_seconds"] for p in payloads])
    return out


def run_seed_group(prepared, group: Path, n: int, *, listeners: list[Callable[[dict], None]] | None = None,
                   should_stop: Callable[[], bool] = lambda: False,
                   on_run: Callable[[int, int, Path], None] | None = None) -> dict:
    """Train ``n`` runs (seeds ``train.seed`` … ``train.seed + n - 1``) in ``group``; the seeds.json payload."""
    from clinitui.engine.recipes.dispatch import recipe_for
    from clinitui.engine.recipes.train import Prepared

    config: RunConfig = prepared.config
    execute = recipe_for(config).execute  # the seed changes nothing of the kind
    dataset = prepared.dataset
    seeds = [config.train.seed + i for i in range(n)]
    payloads, runs = [], []
    for i, seed in enumerate(seeds):
        cfg = config.model_copy(deep=True)
        cfg.train.seed = seed
        path = group / f"seed-{seed}"
        path.mkdir(mode=0o700)
        if on_run:
            on_run(i, n, path)
        payloads.append(execute(Prepared(cfg, dataset, prepared.plan), path, listeners=listeners,
                                should_stop=should_stop))
        runs.append(path)
    ckpt = group_checkpoint(group, [Path(p["checkpoint"]) for p in payloads])
    from clinitui.engine.recipes.seed_finalize import finalize_group  # its own temperature + threshold, on val

    test_metrics, val_metrics, extras = finalize_group(group, ckpt, dataset, config, runs)
    payload = {
        "run_dir": str(group),
        "checkpoint": str(ckpt),
        "seeds": seeds,
        "runs": [str(r) for r in runs],
        "metrics": test_metrics,  # the seed-averaged checkpoint, as eval and predict apply it
        "val_metrics": val_metrics,
        **extras,  # calibration, operating_point, vs_baseline of the averaged checkpoint
        "baseline": payloads[0].get("baseline"),
        "summary": summarize_group(payloads),
        "labels": dataset.label_names,
        "counts": dataset.counts(),
        "wall_seconds": round(sum(p["wall_seconds"] for p in payloads), 2),
        "truncation": payloads[0].get("truncation"),  # --long-notes: the same notes and window in every seed
    }
    write_private(group / "seeds.json", json.dumps(payload, indent=2))
    return payload
