"""Write ``report.html`` (one self-contained file: inline CSS, base64 PNG figures, no script, no
external URL) and ``report.json`` beside it, from the dict :func:`build.build_report` returns."""

from __future__ import annotations

import json
from pathlib import Path

from clinitui.errors import ConfigError, RunDirectoryError
from clinitui.fmt import fmt_params


def _require_extra() -> None:
    missing = []
    for module in ("jinja2", "matplotlib"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ConfigError(f"clinitui report needs {' and '.join(missing)}; install them with "
                          "pip install 'clinitui[report]'")


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def ci(value, interval=None, digits: int = 3) -> str:
    """``0.861 [0.842, 0.879]``"""
    text = fmt(value, digits)
    if value is None or not interval:
        return text
    return f"{text} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def signed_ci(value, interval=None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    text = f"{value:+.{digits}f}"
    return f"{text} [{interval[0]:+.{digits}f}, {interval[1]:+.{digits}f}]" if interval else text


def pval(p) -> str:
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def render(report: dict, figures: dict[str, str]) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["j2", "html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=fmt, ci=ci, signed_ci=signed_ci, pval=pval, params=fmt_params)
    return env.get_template("template.html.j2").render(r=report, fig=figures)


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    """(html path, json path): report.html at ``out``, report.json beside it (same stem)."""
    from clinitui.report import plots
    from clinitui.rundir import write_private

    out = Path(out)
    figures = plots.all_figures(report)
    html = render(report, figures)
    json_path = out.with_suffix(".json")
    try:
        write_private(out, html)
        write_private(json_path, json.dumps(report, indent=1, default=str))
    except OSError as exc:
        raise RunDirectoryError(f"{out}: cannot write the report ({exc.strerror or exc}); choose another --out") from None
    return out, json_path


def make_report(target: Path, out: Path, **options) -> tuple[Path, Path]:
    """Build the numbers for ``target`` and write report.html + report.json; the CLI's and TUI's entry."""
    _require_extra()
    from clinitui.report.build import build_report, build_sweep_report

    target = Path(target)
    is_run = (target / "config.json").is_file() or (target / "checkpoint").is_dir()
    if not is_run and target.is_dir():  # a sweep: a folder of runs
        return write_report(build_sweep_report(target, **options), out)
    return write_report(build_report(target, **options), out)
