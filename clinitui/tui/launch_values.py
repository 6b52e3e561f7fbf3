"""What the launch form holds: raw strings from its widgets, and the checks every part of the form shares.

No Textual here: the form's logic (clinitui/tui/form.py, clinitui/tui/pretrain_form.py) is tested
without an app.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clinitui.errors import ConfigError
from clinitui.kinds import RunKind


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
    kind: RunKind = RunKind.TRAIN  # or PRETRAIN: a `clinitui pretrain` run (clinitui/tui/pretrain_form.py)
    more_data: str = ""  # pretraining: more text files, comma-separated
    steps: str = ""  # pretraining: optimizer steps
    window: str = ""  # pretraining: tokens per window
    size: str = ""  # pretraining: model.backbone_options.size
    time_budget: str = ""  # a `train --time-budget` search instead of one run ("" = none; clinitui/timebudget)
    # backbone/adapter/budget as the chosen experiment preset set them: only changes are passed on,
    # so that the preset's own settings are not overridden by its own parts
    preset_parts: dict[str, str] = field(default_factory=dict)

    def parts(self) -> dict[str, str | None]:
        """``--backbone/--adapter/--budget`` values (None: leave it to the experiment preset)."""
        out: dict[str, str | None] = {}
        for key in ("backbone", "adapter", "budget"):
            value = getattr(self, key)
            preset = self.preset if self.kind == RunKind.TRAIN else ""  # pretraining takes no experiment preset
            out[key] = None if preset and self.preset_parts.get(key) == value else value
        if self.kind == RunKind.PRETRAIN:  # no experiment preset or adapter: masked-LM trains the encoder alone
            out["adapter"] = None
        if out["budget"] == "auto":
            out["budget"] = None
        return out


TIME_BUDGETS = ("15m", "30m", "1h", "2h")  # the launch form's choices (parsed by clinitui.fmt.parse_duration)


def quoted(text: str) -> str:
    # a TOML basic string, so that paths and names with spaces or digits stay strings
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def check_numbers(values: LaunchValues) -> None:
    for label, raw, kind in (("epochs", values.epochs, int), ("learning rate", values.lr, float),
                             ("seed", values.seed, int), ("demo size", values.demo_size, int),
                             ("GPUs", values.nproc, int), ("steps", values.steps, int), ("window", values.window, int)):
        if raw.strip():
            try:
                kind(raw.strip())
            except ValueError:
                raise ConfigError(f"{label}: '{raw.strip()}' is not a number") from None
