"""Number, size and duration formatting shared by the screens (plain strings, no markup)."""

from __future__ import annotations


def fmt_bytes(n: float | None) -> str:
    """``1.5G``, ``612M``, ``-`` for unknown (binary units, short enough for a table cell)."""
    if n is None:
        return "-"
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return f"{int(n)}B"


def fmt_duration(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``2h07m``, ``-`` for unknown."""
    if seconds is None or seconds < 0:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


_DURATION_UNITS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``15m``, ``1h30m``, ``2h`` or a bare number of seconds: the one parser of
    durations (``train --time-budget``, the TUI's launch form); the inverse of :func:`fmt_duration`.

    Raises ``ConfigError`` with one line naming the accepted forms.
    """
    import re

    from clinitui.errors import ConfigError

    raw = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        seconds = float(raw)
    elif re.fullmatch(r"(\d+(\.\d+)?h)?(\d+(\.\d+)?m)?(\d+(\.\d+)?s)?", raw) and raw:  # each unit once, h m s
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([hms])", raw))
    else:
        raise ConfigError(f"'{text}' is not a duration; write e.g. 90s, 15m, 1h30m or 2h")
    if seconds <= 0:
        raise ConfigError(f"'{text}': a duration must be above zero; write e.g. 90s, 15m, 1h30m or 2h")
    return seconds


def fmt_offset(seconds: float) -> str:
    """Time since the run started, ``+MM:SS`` (or ``+H:MM:SS``): stable across time zones."""
    s = max(0, int(seconds))
    if s >= 3600:
        return f"+{s // 3600}:{(s % 3600) // 60:02d}:{s % 60:02d}"
    return f"+{s // 60:02d}:{s % 60:02d}"


def fmt_metric(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_lr(lr: float) -> str:
    """``1e-3``, ``3e-5``, ``2.5e-4``: a learning rate as written in ``--set train.lr=`` and the docs."""
    mantissa, exponent = f"{lr:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def fmt_params(n: int | None) -> str:
    """A parameter count for a person: ``845``, ``845 k``, ``1.22 M``, ``3.1 B`` (three significant
    digits at most, trailing zeros dropped); ``-`` for unknown. JSON keeps the raw integer."""
    if n is None:
        return "-"
    units, value, i = ("", " k", " M", " B", " T"), float(n), 0
    while abs(value) >= 999.5 and i < len(units) - 1:  # 999,500 is ``1 M``, never ``1e+03 k``
        value, i = value / 1000, i + 1
    return str(int(n)) if i == 0 else f"{value:.3g}{units[i]}"


def aligned(header: list[str] | None, rows: list[list[str]], right: tuple[int, ...] = (), indent: str = "") -> list[str]:
    """A table as plain text lines: columns two spaces apart, no border, never wrapped (off a terminal:
    a pipe, a file, cron's mail). Columns at the indexes in ``right`` are right-aligned (numbers);
    without a ``header`` only the rows are written."""
    body = ([list(header)] if header is not None else []) + [list(r) for r in rows]
    if not body:
        return []
    widths = [max(len(r[i]) for r in body) for i in range(len(body[0]))]
    return [(indent + "  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                                for i, (cell, w) in enumerate(zip(row, widths)))).rstrip()
            for row in body]


def short_run_name(name: str) -> str:
    """``20261123-052636-scratch-transformer-grn`` → ``11-23 05:26``; other names are cut to 11."""
    stamp = name[:15]
    if len(stamp) == 15 and stamp[8] == "-" and stamp.replace("-", "").isdigit():
        return f"{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]}"
    return name[:11]


def ellipsize(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
