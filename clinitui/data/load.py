"""The table and the dataset a run's ``[data]`` section names: one reading of it for every run kind."""

from __future__ import annotations

from clinitui.config.schema import RunConfig
from clinitui.data.dataset import Dataset, choose_positive, sort_labels
from clinitui.data.readers import Table, read_table
from clinitui.data.splits import make_dataset
from clinitui.kinds import Task


def load_table(config: RunConfig) -> Table:
    """The labelled table of ``config.data``: its file, or the built-in demo corpus when no path is given."""
    d = config.data
    if d.path is None:
        from clinitui.data.demo import generate_notes

        texts, labels = generate_notes(d.demo_size, seed=0)
        return Table(texts, [str(x) for x in labels], None, source="demo")
    return read_table(d.path, d.text_col, d.label_col, d.split_col, delimiter=d.delimiter, encoding=d.encoding,
                      multilabel=d.task == Task.MULTILABEL)


def dataset_for(config: RunConfig) -> Dataset:
    """``config.data``'s table split into train / val / test as the run will split it."""
    d = config.data
    return make_dataset(load_table(config), val_fraction=d.val_fraction, test_fraction=d.test_fraction,
                        seed=d.split_seed, positive_label=d.positive_label, task=d.task, label_sep=d.label_sep,
                        label_col=d.label_col)


def positive_of(config: RunConfig) -> dict | None:
    """The positive class the run will take and why ({"label", "why"}), from the table's labels alone
    (``--dry-run``); None unless the task is binary. A bad ``data.positive_label`` is a DataError here too."""
    from collections import Counter

    if config.data.task == Task.MULTILABEL:
        return None
    labels = load_table(config).labels
    names = sort_labels(set(labels))
    got = choose_positive(names, config.data.positive_label, Counter(labels))
    return None if got is None else {"label": names[got[0]], "why": got[1]}
