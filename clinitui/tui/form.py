"""The launch form's values, and how they become a validated ``RunConfig`` (no Textual here).

The form speaks the CLI's vocabulary: an experiment preset, backbone / adapter / budget presets
and dotted ``key=value`` settings, and "extra settings" takes more of them verbatim. Whatever
the form starts, ``cli_command`` prints the ``clinitui train`` line that starts the same run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from clinitui.errors import ClinituiError, ConfigError

if TYPE_CHECKING:
    from clinitui.config.schema import RunConfig


@dataclass
class LaunchValues:
    """Raw strings from the widgets; empty means "the default"."""

    data_path: str = ""
    text_col: str = "text"
    label_col: str = "label"
    split_col: str = ""
    demo_size: str = ""
    preset: str = ""
    backbone: str = "scratch-transformer"
    adapter: str = "grn"
    budget: str = "auto"
    epochs: str = ""
    lr: str = ""
    seed: str = ""
    nproc: str = ""  # data-parallel processes (offered when several GPUs are visible)
    extra: str = ""
    kind: str = "train"  # or "pretrain": a `clinitui pretrain` run (clinitui/tui/pretrain_form.py)
    more_data: str = ""  # pretraining: more text files, comma-separated
    steps: str = ""  # pretraining: optimizer steps
    window: str = ""  # pretraining: tokens per window
    size: str = ""  # pretraining: model.backbone_options.size
    # backbone/adapter/budget as the chosen experiment preset set them: only changes are passed on,
    # so that the preset's own settings are not overridden by its own parts
    preset_parts: dict[str, str] = field(default_factory=dict)

    def parts(self) -> dict[str, str | None]:
        """``--backbone/--adapter/--budget`` values (None: leave it to the experiment preset)."""
        out: dict[str, str | None] = {}
        for key in ("backbone", "adapter", "budget"):
            value = getattr(self, key)
            preset = self.preset if self.kind == "train" else ""  # pretraining takes no experiment preset
            out[key] = None if preset and self.preset_parts.get(key) == value else value
        if self.kind == "pretrain":  # no experiment preset or adapter: masked-LM trains the encoder alone
            out["adapter"] = None
        if out["budget"] == "auto":
            out["budget"] = None
        return out

    def assignments(self) -> list[str]:
        """``--set`` assignments in order; ``extra`` comes last so it wins, as on the CLI."""
        out: list[str] = []
        if self.data_path.strip():
            out.append(f"data.path={_quoted(self.data_path.strip())}")
            if self.text_col != "text":
                out.append(f"data.text_col={_quoted(self.text_col)}")
            if self.label_col != "label":
                out.append(f"data.label_col={_quoted(self.label_col)}")
            if self.split_col:
                out.append(f"data.split_col={_quoted(self.split_col)}")
        elif self.demo_size.strip():
            out.append(f"data.demo_size={self.demo_size.strip()}")
        for key, raw in (("train.epochs", self.epochs), ("train.lr", self.lr), ("train.seed", self.seed),
                         ("dist.nproc", self.nproc)):
            if raw.strip() and not (key in ("train.lr", "dist.nproc") and self.kind == "pretrain"):
                out.append(f"{key}={raw.strip()}")
        if self.kind == "pretrain":
            from clinitui.tui.pretrain_form import pretrain_assignments

            out.extend(pretrain_assignments(self))
        try:
            out.extend(shlex.split(self.extra))
        except ValueError:
            raise ConfigError("extra settings: unbalanced quotes; write key=value pairs separated by spaces") from None
        return out


def _quoted(text: str) -> str:
    # a TOML basic string, so that paths and names with spaces or digits stay strings
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def build_config(values: LaunchValues) -> RunConfig:
    """The validated config the worker will run; raises ``ClinituiError`` naming the bad field."""
    from clinitui.tui import catalog

    _check_numbers(values)
    parts = values.parts()
    preset = values.preset if values.kind == "train" else ""  # pretraining takes no experiment preset
    return catalog.compose(preset=preset or None, backbone=parts["backbone"] or "",
                           adapter=parts["adapter"] or "", budget=parts["budget"] or "",
                           sets=values.assignments())


def _check_numbers(values: LaunchValues) -> None:
    for label, raw, kind in (("epochs", values.epochs, int), ("learning rate", values.lr, float),
                             ("seed", values.seed, int), ("demo size", values.demo_size, int),
                             ("GPUs", values.nproc, int), ("steps", values.steps, int), ("window", values.window, int)):
        if raw.strip():
            try:
                kind(raw.strip())
            except ValueError:
                raise ConfigError(f"{label}: '{raw.strip()}' is not a number") from None


def problem(values: LaunchValues) -> str | None:
    """Why Start is disabled, in one line, or None when the form can start a run."""
    if not values.backbone.strip():
        return "choose a backbone"
    if values.kind == "pretrain":
        from clinitui.tui.pretrain_form import pretrain_problem

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

    if values.kind == "pretrain":
        from clinitui.tui.pretrain_form import pretrain_command

        return pretrain_command(values)
    words = ["clinitui", "train"]
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
        sets = values.assignments()
    except ClinituiError:
        sets = []
    for item in sets:
        words += ["--set", item]
    return " ".join(shlex.quote(w) for w in words)


def cli_args(values: LaunchValues) -> list[str]:
    """``cli_command`` as an argument list (after ``clinitui train``), for the planner subprocess."""
    return shlex.split(cli_command(values))[2:]
