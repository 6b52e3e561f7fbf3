"""Start a time-budget search: check the budget against the data, then write the search directory.

Shared by ``clinitui train --time-budget`` and the TUI's launch form, so both refuse the same
budgets with the same line and write the same directory.
"""

from __future__ import annotations

from pathlib import Path

from clinitui.errors import ConfigError
from clinitui.fmt import fmt_duration, parse_duration
from clinitui.kinds import RunKind, config_kind
from clinitui.timebudget import layout as L

DEMO_TEXT = "demo.csv"  # the built-in corpus, written for the pretraining rung (synthetic notes only)


def check_budget(text: str, n_notes: int) -> float:
    """The budget in seconds; ConfigError (exit 2) with the minimum when even the TF-IDF model would not fit."""
    from clinitui.timebudget.search import minimum_budget

    budget = parse_duration(text)
    least = minimum_budget(n_notes)
    if budget < least:
        raise ConfigError(f"--time-budget {text} is too short: the TF-IDF model alone needs about "
                          f"{fmt_duration(least)} on these {n_notes:,} notes; give at least {fmt_duration(least)}")
    return budget


def create_search(config, budget_text: str, *, unlabeled: list[Path], root: Path, explicit: Path | None = None) -> Path:
    """Check everything, then write ``base.toml`` and ``search.json`` in a new search directory; returns it.

    Bad input (data, model, budget, an unlabeled file that is not there) fails here, before any
    directory exists. The base config is the prepared one, so what the network rung trains is what
    ``clinitui train`` with the same options trains (epochs raised for a small split included).
    """
    from clinitui.config.overrides import to_toml
    from clinitui.engine.recipes.dispatch import recipe_for

    parse_duration(budget_text)  # a malformed duration fails before the data is read
    if config_kind(config) is RunKind.PRETRAIN:
        raise ConfigError("--time-budget searches for a classifier; a pretraining config is one of its candidates")
    if config.dist.world_size > 1:
        raise ConfigError("--time-budget runs its candidates one process each; drop --nproc / --nnodes")
    for file in unlabeled:
        if not Path(file).is_file():
            raise ConfigError(f"--unlabeled {file}: no such file; pass a CSV, TSV, JSONL or Parquet file of notes")
    prepared = recipe_for(config).prepare(config)
    ds = prepared.dataset
    n_notes = len(ds.train.texts) + len(ds.val.texts) + len(ds.test.texts)
    budget = check_budget(budget_text, n_notes)
    path = L.new_search_dir(root, explicit)
    text = config.data.path
    if text is None and config_kind(config) is not RunKind.TFIDF:
        from clinitui.data.demo import write_demo_csv

        text = str(path / DEMO_TEXT)
        write_demo_csv(text, n=config.data.demo_size)  # the same notes and split seed as the demo table
    L.write_spec(path, to_toml(prepared.config), {
        "budget_s": budget, "budget_text": budget_text, "pretrain_text": None if text is None else str(Path(text).resolve()),
        "unlabeled": [str(Path(f).resolve()) for f in unlabeled], "n_train": len(ds.train.texts), "n_notes": n_notes})
    return path
