"""Sizes a reader can hold in mind: no engine function over 80 lines, no module over 400 (STYLE.md).

A long function is split by what it does (set up, step, log, validate ...), a long module by
what its parts are for; this test keeps it so. A function's lines run from its ``def`` to its
last line (a nested function counts inside its parent too), a module's are its newlines.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "clinitui"
MAX_FUNCTION_LINES = 80  # inside clinitui/engine/
MAX_MODULE_LINES = 400  # anywhere in clinitui/



def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_no_engine_function_over_80_lines():
    long = []
    for path in _modules():
        if not _name(path).startswith("engine/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                where = f"{_name(path)}:{node.name}"
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{where} ({lines} lines, line {node.lineno})")
    assert not long, "split these by what they do: " + "; ".join(long)


def test_no_module_over_400_lines():
    long = [f"{_name(p)} ({n} lines)" for p in _modules()
            if (n := p.read_text(encoding="utf-8").count("\n")) > MAX_MODULE_LINES]
    assert not long, "split these by what their parts are for: " + "; ".join(long)
