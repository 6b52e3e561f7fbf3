"""The launch form's pretraining choice: its settings, its check and its ``clinitui pretrain`` line.

With "pretrain a backbone" chosen, the same form starts a ``clinitui pretrain`` run in the detached
worker: the dataset is the first text file, "More text" adds unlabeled files (``--data`` again),
and Steps / Window / Size say how long, on how many tokens per window and how big. The config
is the one ``clinitui pretrain`` builds (a ``[pretrain]`` table), so the worker, the run directory
and ``clinitui pretrain --resume`` treat it alike. No Textual here (tests/tui/test_tui_state.py style).
"""

from __future__ import annotations

import shlex

from clinitui.kinds import RunKind
from clinitui.tui.launch_values import LaunchValues, check_numbers, quoted

KINDS = (("train a classifier", RunKind.TRAIN), ("pretrain a backbone (masked LM on unlabeled text)", RunKind.PRETRAIN))


def more_files(values: LaunchValues) -> list[str]:
    """The "More text" field: paths separated by commas (a path may hold spaces)."""
    return [p.strip() for p in values.more_data.split(",") if p.strip()]


def pretrain_assignments(values: LaunchValues) -> list[str]:
    """``--set`` items for a pretraining run (before the extra settings, which win)."""
    files = ", ".join(quoted(p) for p in more_files(values))
    out = [f"pretrain.extra_data=[{files}]"]  # always: it makes the [pretrain] table that marks the run
    for key, raw in (("pretrain.steps", values.steps), ("pretrain.window", values.window),
                     ("pretrain.lr", values.lr)):
        if raw.strip():
            out.append(f"{key}={raw.strip()}")
    if values.size.strip():
        out.append(f"model.backbone_options.size={quoted(values.size.strip())}")
    return out


def pretrain_problem(values: LaunchValues) -> str | None:
    """What a pretraining run needs beyond a valid config: a text file (there is no demo text)."""
    if not values.data_path.strip():
        return "pretraining needs unlabeled text: choose a data file (More text adds others)"
    from pathlib import Path

    for path in more_files(values):
        if not Path(path).expanduser().is_file():
            return f"More text: {path}: no such file"
    return None


def pretrain_command(values: LaunchValues) -> str:
    """The equivalent ``clinitui pretrain`` line (shown under the form, copyable to a script)."""
    words = ["clinitui", "pretrain"]
    for path in [values.data_path.strip(), *more_files(values)]:
        if path:
            words += ["--data", path]
    if values.data_path.strip():
        if values.text_col != "text":
            words += ["--text-col", values.text_col]
        if values.label_col != "label":
            words += ["--label-col", values.label_col]
        if values.split_col:
            words += ["--split-col", values.split_col]
    if values.backbone:
        words += ["--backbone", values.backbone]
    if values.budget and values.budget != "auto":
        words += ["--budget", values.budget]
    for flag, raw in (("--steps", values.steps), ("--window", values.window), ("--epochs", values.epochs),
                      ("--seed", values.seed)):
        if raw.strip():
            words += [flag, raw.strip()]
    try:
        check_numbers(values)
        extra = shlex.split(values.extra)
    except Exception:  # the form shows the problem; the line shows what it can
        extra = []
    for item in ([f"pretrain.lr={values.lr.strip()}"] if values.lr.strip() else []) + (
            [f"model.backbone_options.size={values.size.strip()}"] if values.size.strip() else []) + extra:
        words += ["--set", item]
    return " ".join(shlex.quote(w) for w in words)
