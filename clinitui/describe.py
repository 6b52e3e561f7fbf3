"""What a checkpoint predicts and its figures, described once for every view (torch-free).

A default checkpoint is not "the network": it is the network *blended* with a TF-IDF model, the
weight chosen on validation (engine/tfidf/blend.py). Every view -- ``runs list``, ``runs show``,
``eval``, the report, the TUI's run screen, metrics tab and evaluate dialog -- asks
:func:`describe_run` / :func:`describe_checkpoint` and prints what it says, so no view shows the
validation figure of one predictor beside the test figure of another:

* ``predicts``: the network alone, the blend (with the network's weight), the TF-IDF model alone,
  or the mean of a seeds group (clinitui/kinds.py :class:`Predicts`);
* ``shipped``: the validation and test figures of exactly what the checkpoint computes, under the
  headline metric of its task (macro-F1 single-label, micro-F1 multi-label);
* ``network`` and ``tfidf``: the same two figures for each part alone, where the run measured them.

The figures are read from what the run wrote (``metrics.json``, or ``seeds.json`` for a seeds
group); nothing is recomputed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from clinitui.kinds import Predicts, Task, checkpoint_predicts

HEADLINE = {Task.MULTICLASS: "f1_macro", Task.MULTILABEL: "f1_micro"}
METRIC_LABEL = {"f1_macro": "macro-F1", "f1_micro": "micro-F1"}
# what each part is called where a person reads it
PART_LABEL = {"shipped": "shipped model", "network": "network alone", "tfidf": "TF-IDF alone"}


@dataclass(frozen=True)
class Figures:
    """One predictor's headline figure on validation and on test (None where the run did not measure it)."""

    val: float | None = None
    test: float | None = None
    test_ci: tuple[float, float] | None = None

    def as_json(self) -> dict:
        return {"val": self.val, "test": self.test, "test_ci": None if self.test_ci is None else list(self.test_ci)}


@dataclass(frozen=True)
class Description:
    """What a checkpoint predicts (``predicts``, ``weight``) and its figures (``parts``)."""

    predicts: Predicts
    backbone: str | None
    adapter: str | None
    task: Task = Task.MULTICLASS
    weight: float | None = None  # a blend: the network's weight w in w·p_network + (1 − w)·p_tfidf
    members: int | None = None  # a seeds group: how many checkpoints are averaged
    parts: dict[str, Figures] = field(default_factory=dict)  # "shipped", then "network" / "tfidf" where known
    note: str | None = None  # why the run shipped what it ships (metrics.json ``blend.reason``), if it said

    @property
    def metric(self) -> str:
        return HEADLINE[self.task]

    @property
    def metric_label(self) -> str:
        return METRIC_LABEL[self.metric]

    @property
    def shipped(self) -> Figures:
        return self.parts.get("shipped", Figures())

    @property
    def network_name(self) -> str:
        if self.adapter in (None, "", "?"):
            return str(self.backbone)
        return f"{self.backbone} + {self.adapter}"

    def cell(self) -> str:
        """The short ``predicts`` cell of the runs tables: ``network``, ``blend 0.30``, ``tfidf``, ``3-seed mean``."""
        if self.predicts is Predicts.BLEND:
            return f"blend {self.weight:.2f}" if self.weight is not None else "blend"
        if self.predicts is Predicts.SEED_AVERAGE:
            return f"{self.members}-seed mean" if self.members else "seed mean"
        return str(self.predicts)

    def sentence(self) -> str:
        """One line a clinical reader cannot misread: what computes the predictions."""
        if self.predicts is Predicts.BLEND:
            if self.weight is None:
                return f"a blend of the network ({self.network_name}) and a TF-IDF model"
            if self.weight in (0.0, 1.0):  # validation gave one part all the weight: say which, plainly
                part = "the TF-IDF model" if self.weight == 0.0 else f"the network ({self.network_name})"
                return f"{part} alone (the blend's weight, chosen on validation, gives it all of the weight)"
            return (f"a blend: {self.weight:.0%} network ({self.network_name}) + {1 - self.weight:.0%} TF-IDF model "
                    f"(weight chosen on validation)")
        if self.predicts is Predicts.TFIDF:
            return "the TF-IDF model alone (word and character n-grams, logistic regression)"
        if self.predicts is Predicts.SEED_AVERAGE:
            return f"the mean of {self.members or 'several'} checkpoints trained with different seeds ({self.network_name})"
        return f"the network alone ({self.network_name})"

    def baseline_note(self) -> str:
        """What ``vs_baseline`` compares the shipped model with."""
        if self.predicts is Predicts.BLEND and self.weight is not None:
            return (f"the blend's own TF-IDF member alone (it carries {1 - self.weight:.0%} of the blend's weight), "
                    "scored on the same notes")
        return "the TF-IDF model the run fitted on its training split, scored on the same notes"

    def rows(self) -> list[tuple[str, Figures]]:
        """(label, figures) for the shipped model first, then each part the run measured alone."""
        return [(PART_LABEL[k], self.parts[k]) for k in ("shipped", "network", "tfidf") if k in self.parts]

    def as_json(self) -> dict:
        return {"predicts": str(self.predicts), "summary": self.sentence(), "weight": self.weight,
                "members": self.members, "metric": self.metric, "note": self.note,
                "figures": {k: v.as_json() for k, v in self.parts.items()}}


def describe(config: Mapping[str, Any], metrics: Mapping[str, Any] | None = None) -> Description:
    """The description of a checkpoint whose ``config.json`` is ``config``, with the figures of ``metrics``
    (the run's ``metrics.json`` or a seeds group's ``seeds.json``; None: what it predicts only)."""
    model = config.get("model") or {}
    predicts = checkpoint_predicts(config)
    task = Task.of(config)
    weight = (config.get("ensemble") or {}).get("weight") if predicts is Predicts.BLEND else None
    members = len(config.get("members") or []) or None
    parts = _parts(predicts, HEADLINE[task], metrics) if metrics else {}
    note = ((metrics or {}).get("blend") or {}).get("reason")
    adapter = None if predicts is Predicts.TFIDF else model.get("adapter")
    return Description(predicts, model.get("backbone"), adapter, task, None if weight is None else float(weight),
                       members, parts, note)


def _figure(block: Mapping | None, metric: str, val: Mapping | None = None, val_key: str | None = None) -> Figures:
    block = block or {}
    v = (val or {}).get(metric) if val is not None else block.get(val_key) if val_key else None
    ci = block.get(f"{metric}_ci")
    return Figures(v, block.get(metric), tuple(ci) if ci else None)


def _parts(predicts: Predicts, metric: str, m: Mapping[str, Any]) -> dict[str, Figures]:
    """The figures of each predictor from the keys a run wrote (docs/run-directory.md)."""
    parts = {"shipped": _figure(m.get("metrics"), metric, m.get("val_metrics") or {})}
    if m.get("network") and m.get("network_val") is not None:  # a blend: the network alone, measured apart
        parts["network"] = _figure(m["network"], metric, m["network_val"])
    elif predicts is Predicts.NETWORK:
        parts["network"] = parts["shipped"]
    base = m.get("baseline")
    if base and predicts is not Predicts.TFIDF:
        val = m.get("baseline_val")
        parts["tfidf"] = _figure(base, metric, val) if val else _figure(base, metric, val_key=f"val_{metric}")
    if predicts is Predicts.NETWORK:
        parts.pop("network")  # the shipped model is the network: one row, not two
    return parts


def read_json(path: Path) -> dict | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_metrics(run_dir: Path) -> dict | None:
    """``metrics.json`` of a run; for a ``train --seeds`` group, its ``seeds.json`` (same ``metrics`` key)."""
    for name in ("metrics.json", "seeds.json"):
        found = read_json(Path(run_dir) / name)
        if found is not None:
            return found
    return None


def checkpoint_config(ckpt_dir: Path) -> dict | None:
    """``config.json`` of a checkpoint folder (or of the ``.old`` copy a crash mid-swap leaves)."""
    from clinitui.engine.checkpoint.swap import current  # torch-free

    return read_json(current(Path(ckpt_dir)) / "config.json")


def describe_run(run_dir: Path) -> Description | None:
    """A run's checkpoint described with the run's own figures; None before its first checkpoint."""
    config = checkpoint_config(Path(run_dir) / "checkpoint")
    return None if config is None else describe(config, read_metrics(run_dir))


def describe_checkpoint(ckpt_dir: Path) -> Description | None:
    """A checkpoint folder; with the figures of the run that wrote it when it still lies in that run."""
    ckpt_dir = Path(ckpt_dir)
    config = checkpoint_config(ckpt_dir)
    if config is None:
        return None
    run = ckpt_dir.parent
    metrics = read_metrics(run) if (run / "run.toml").is_file() or (run / "seeds.json").is_file() else None
    return describe(config, metrics)
