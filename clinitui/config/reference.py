"""Render every setting (dotted name, default, description) as Markdown for docs/configuration.md."""

from __future__ import annotations

import typing

from pydantic import BaseModel

from clinitui.config.schema import RunConfig


def rows(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    out = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        optional = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(optional) == 1 and isinstance(optional[0], type) and issubclass(optional[0], BaseModel):
            annotation = optional[0]  # an optional table (e.g. [pretrain]): list its settings
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += rows(annotation, f"{prefix}{name}.")
            continue
        default = field.default_factory() if field.default_factory is not None else field.default
        out.append((prefix + name, repr(default) if default is not None else "—", field.description or ""))
    return out


def _escape(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe would end the table cell


def render_markdown() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Every setting has a dotted name, used the same way in preset files (TOML tables), on the",
        "command line (`clinitui train --set train.lr=3e-4`) and in the TUI. The fully resolved",
        "configuration of each run is written to its `run.toml`.",
        "",
        "Generated from `clinitui/config/schema.py` by `python -m clinitui.config.reference`.",
        "",
        "| setting | default | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{k}` | `{d}` | {_escape(m)} |" for k, d, m in rows()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
