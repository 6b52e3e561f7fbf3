"""The shape of the code, enforced: no import circle among clinitui modules, and no import that climbs a layer.

Every ``import`` counts, also those inside functions (an import deferred into a function still
ties the two modules together; it only hides the circle from Python). The layers are drawn in
docs/architecture.md; this test is their definition.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "clinitui"

# Bottom to top. A module may import its own layer or any layer below it, never one above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("clinitui", "clinitui.errors", "clinitui.events", "clinitui.signals", "clinitui.digest",
              "clinitui.gpus", "clinitui.rundir", "clinitui.kinds", "clinitui.fmt")),
    ("config", ("clinitui.config",)),
    ("data", ("clinitui.data",)),
    ("models", ("clinitui.models",)),
    ("engine", ("clinitui.engine",)),
    ("services", ("clinitui.describe", "clinitui.runs", "clinitui.names", "clinitui.launcher", "clinitui.worker", "clinitui.sweep", "clinitui.timebudget", "clinitui.bench",
                  "clinitui.export", "clinitui.report", "clinitui.tracking", "clinitui.promote", "clinitui.labeling")),
    ("front ends", ("clinitui.cli", "clinitui.tui", "clinitui.__main__")),
]

# Inside the engine, the same rule one level down (docs/architecture.md).
ENGINE_LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("runtime", ("clinitui.engine.runtime",)),
    ("encode, memory", ("clinitui.engine.encode", "clinitui.engine.memory")),
    ("evaluate", ("clinitui.engine.evaluate",)),
    ("tfidf, checkpoint", ("clinitui.engine.tfidf", "clinitui.engine.checkpoint")),
    ("train, pretrain, inference", ("clinitui.engine.train", "clinitui.engine.pretrain", "clinitui.engine.inference")),
    ("recipes", ("clinitui.engine.recipes",)),
]

# Front ends do not reach into each other: `clinitui` (the CLI) may start the console, nothing more.
ALLOWED_ACROSS = {("clinitui.cli.app", "clinitui.tui")}

NUMPY_ONLY = "clinitui.engine.evaluate"  # statistics and metrics: no torch, no transformers
HEAVY = ("torch", "transformers", "peft", "tokenizers", "safetensors.torch")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, int, str]]:
    """(imported clinitui module, line, raw name) for every import in ``module``, nested ones included."""
    out = []
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        for name in names:
            target = _resolve(name) if name.startswith("clinitui") else None
            out.append((target, node.lineno, name))
    return out


def _graph() -> dict[str, set[str]]:
    graph = {m: set() for m in MODULES}
    for m in MODULES:
        for target, _, _ in _imports(m):
            if target and target != m:
                graph[m].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _level(module: str, layers) -> int | None:
    best = None
    for level, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            if module == prefix or (prefix != "clinitui" and module.startswith(prefix + ".")):
                best = level
    return best


def test_every_module_has_a_layer():
    unplaced = [m for m in MODULES if _level(m, LAYERS) is None]
    assert not unplaced, f"modules outside every layer (add them to LAYERS and docs/architecture.md): {unplaced}"
    engine = [m for m in MODULES if m.startswith("clinitui.engine.") and _level(m, ENGINE_LAYERS) is None]
    assert not engine, f"engine modules outside every engine sub-package: {engine}"


def test_no_import_circle():
    cycles = _cycles(_graph())
    assert not cycles, "import circles (imports inside functions count): " + "; ".join(" ↔ ".join(c) for c in cycles)


def _climbs(layers, scope: str = "") -> list[str]:
    bad = []
    for module in MODULES:
        if not module.startswith(scope):
            continue
        mine = _level(module, layers)
        for target, line, _ in _imports(module):
            if not target or not target.startswith(scope) or mine is None:
                continue
            theirs = _level(target, layers)
            if theirs is not None and theirs > mine:
                bad.append(f"{module}:{line} imports {target}")
    return bad


def test_imports_point_down_the_layers():
    assert not _climbs(LAYERS), "imports that climb a layer:\n" + "\n".join(_climbs(LAYERS))


def test_engine_sub_packages_point_down():
    bad = _climbs(ENGINE_LAYERS, "clinitui.engine.")
    assert not bad, "engine imports that climb an engine layer:\n" + "\n".join(bad)


def test_front_ends_do_not_import_each_other():
    bad = []
    for module in MODULES:
        for mine, other in (("clinitui.cli", "clinitui.tui"), ("clinitui.tui", "clinitui.cli")):
            if not module.startswith(mine):
                continue
            for target, line, _ in _imports(module):
                if target and (target == other or target.startswith(other + ".")) \
                        and (module, target) not in ALLOWED_ACROSS:
                    bad.append(f"{module}:{line} imports {target}")
    assert not bad, "a front end imports the other:\n" + "\n".join(bad)


def test_evaluation_is_numpy_only():
    bad = [f"{m}:{line} imports {name}" for m in MODULES if m.startswith(NUMPY_ONLY)
           for target, line, name in _imports(m) if name.split(".")[0] in HEAVY or name.startswith(HEAVY)]
    assert not bad, "engine/evaluate/ must stay numpy-only:\n" + "\n".join(bad)


@pytest.mark.parametrize("source, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_circle_finder_finds_circles(source, expected):
    assert _cycles(source) == expected
