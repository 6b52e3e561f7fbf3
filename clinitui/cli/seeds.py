"""``clinitui train --seeds N`` and the ensemble summary line (the CLI side of engine/recipes/seeds.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from clinitui.cli.common import print_json


def run_seeds(prepared, root: Path, run_dir: Path | None, n: int, *, detach: bool, json_out: bool, quiet: bool) -> None:
    from clinitui.cli.progress import make_progress
    from clinitui.engine.recipes.seeds import run_seed_group
    from clinitui.errors import ConfigError
    from clinitui.rundir import RunLock
    from clinitui.runs import new_run_dir
    from clinitui.signals import StopFlag
    from clinitui.tracking import listeners

    if detach:
        raise ConfigError("--seeds runs its runs one after another in this process; drop --detach "
                          "(or start one detached run per --seed)")
    m = prepared.config.model
    group = new_run_dir(root, m.backbone, f"{m.adapter}-{n}seeds", run_dir)
    stop = StopFlag()
    stop.install()

    def started(i: int, total: int, path: Path) -> None:
        if not quiet:
            sys.stderr.write(f"seed run {i + 1}/{total}: {path}\n")

    progress = make_progress(quiet)
    lock = RunLock(group)  # `runs list` shows the group running between its seeds and while it is finalized
    try:
        payload = run_seed_group(prepared, group, n, should_stop=stop, on_run=started,
                                 listeners=([progress] if progress else []) + listeners(prepared.config, group))
    finally:
        lock.release()
        if progress:
            progress.close()
    if json_out:
        print_json(payload)
        return
    if quiet:
        return
    s = payload["summary"]

    def ms(key: str) -> str:
        return f"{s[key]['mean']:.4f} ± {s[key]['sd']:.4f}"

    lines = [f"{n} seeds {payload['seeds']}: test macro-F1 {ms('f1_macro')}, val macro-F1 {ms('val_f1_macro')}"]
    if "network_f1_macro" in s:
        lines.append(f"  network alone: test macro-F1 {ms('network_f1_macro')}")
    if "baseline_f1_macro" in s:
        lines.append(f"  baseline TF-IDF + logistic regression: test macro-F1 {ms('baseline_f1_macro')}")
    lines.append(f"seed-averaged checkpoint: test macro-F1 {payload['metrics']['f1_macro']:.4f}, "
                 f"val {payload['val_metrics']['f1_macro']:.4f}")
    lines.append(f"group: {payload['run_dir']}\ncheckpoint: {payload['checkpoint']}")
    sys.stderr.write("\n".join(lines) + "\n")
