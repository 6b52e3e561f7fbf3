"""The launch form's values, and how they become a validated ``RunConfig`` (no Textual here).

The form speaks the CLI's vocabulary: an experiment preset, backbone / adapter / budget presets
and dotted ``key=value`` settings, and "extra settings" takes more of them verbatim. Whatever
the form starts, ``cli_command`` prints the ``clinitui train`` line that starts the same run.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from clinitui.errors import ClinituiError, ConfigError
from clinitui.kinds import RunKind
from clinitui.tui.launch_values import LaunchValues, check_numbers, quoted
from clinitui.tui.pretrain_form import pretrain_assignments, pretrain_command, pretrain_problem

if TYPE_CHECKING:
    from clinitui.config.schema import RunConfig


def assignments(values: LaunchValues) -> list[str]:
    """``--set`` assignments in order; ``extra`` comes last so it wins, as on the CLI."""
    out: list[str] = []
    if values.data_path.strip():
        out.append(f"data.path={quoted(values.data_path.strip())}")
        if values.text_col != "text":
            out.append(f"data.text_col={quoted(values.text_col)}")
        if values.label_col != "label":
            out.append(f"data.label_col={quoted(values.label_col)}")
        if values.split_col:
            out.append(f"data.split_col={quoted(values.split_col)}")
    elif values.demo_size.strip():
        out.append(f"data.demo_size={values.demo_size.strip()}")
    for key, raw in (("train.epochs", values.epochs), ("train.lr", values.lr), ("train.seed", values.seed),
                     ("dist.nproc", values.nproc)):
        if raw.strip() and not (key in ("train.lr", "dist.nproc") and values.kind == RunKind.PRETRAIN):
            out.append(f"{key}={raw.strip()}")
    if values.kind == RunKind.PRETRAIN:
        out.extend(pretrain_assignments(values))
    try:
        out.extend(shlex.split(values.extra))
    except ValueError:
        raise ConfigError("extra settings: unbalanced quotes; write key=value pairs separated by spaces") from None
    return out


def build_config(values: LaunchValues) -> RunConfig:
    """The validated config the worker will run; raises ``ClinituiError`` naming the bad field."""
    from clinitui.tui import catalog

    check_numbers(values)
    parts = values.parts()
    preset = values.preset if values.kind == RunKind.TRAIN else ""  # pretraining takes no experiment preset
    return catalog.compose(preset=preset or None, backbone=parts["backbone"] or "",
                           adapter=parts["adapter"] or "", budget=parts["budget"] or "",
                           sets=assignments(values))


def problem(values: LaunchValues) -> str | None:
    """Why Start is disabled, in one line, or None when the form can start a run."""
    if not values.backbone.strip():
        return "choose a backbone"
    if values.kind == RunKind.PRETRAIN:
        reason = pretrain_problem(values)
        if reason:
            return reason
    elif not values.adapter.strip():
        return "choose an adapter"
    try:
        build_config(values)
    except ClinituiError as exc:
        return str(exc)
    return None


def cli_command(values: LaunchValues) -> str:
    """The equivalent ``clinitui train`` command line (shown in the form, copyable to a script)."""
    from clinitui.tui.catalog import presets_available

    if values.kind == RunKind.PRETRAIN:
        return pretrain_command(values)
    words = ["clinitui", "train"]
    if values.time_budget:
        words += ["--time-budget", values.time_budget]
    if values.preset:
        words += ["--preset", values.preset]
    parts = values.parts()
    if presets_available():
        for key in ("backbone", "adapter", "budget"):
            if parts[key]:
                words += [f"--{key}", parts[key]]
    else:
        words += ["--set", f"model.backbone={parts['backbone']}", "--set", f"model.adapter={parts['adapter']}"]
        if parts["budget"] == "cpu":
            words += ["--set", "budget.name=cpu", "--set", "budget.device=cpu"]
    try:
        sets = assignments(values)
    except ClinituiError:
        sets = []
    for item in sets:
        words += ["--set", item]
    return " ".join(shlex.quote(w) for w in words)


def cli_args(values: LaunchValues) -> list[str]:
    """``cli_command`` as an argument list (after ``clinitui train``), for the planner subprocess."""
    return shlex.split(cli_command(values))[2:]
