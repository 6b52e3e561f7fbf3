"""The candidates of a time-budget search, cheapest and most likely first (an AutoGluon-style ladder).

1. ``tfidf``      the TF-IDF + logistic-regression model alone (a run of backbone ``tfidf``)
2. ``network``    the configuration as given (by default scratch-transformer + grn, blended with TF-IDF)
3. ``pretrain``   masked-LM pretraining of the same backbone on the training notes (+ ``--unlabeled``
                  files; test notes left out), time-boxed to what the budget leaves
4. ``pretrained`` the network fine-tuned from that backbone
5. variants of the best network so far while time remains: twice the epochs (unless it stopped
   early), another adapter, another seed

Each proposal is an ordinary run config; the search prices it (estimate.py) and starts it only if
it can finish in what remains, else journals it as skipped and takes the next one. Later rungs
depend on how earlier ones ended, so the ladder is re-read after every candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

from clinitui.kinds import RunKind, config_kind

NETWORKS = ("network", "pretrained")  # the rungs whose variants are tried
ALT_ADAPTER = {"grn": "tinyattention"}  # "another adapter": this one, else grn
MIN_PRETRAIN_PASSES = 2  # pretraining shorter than this many passes over the notes is not worth starting
FULL_PRETRAIN_PASSES = 12  # the from-scratch default of `clinitui pretrain` (docs/pretraining.md)


@dataclass
class Proposal:
    name: str
    what: str  # one line for the table: what this candidate is
    config: object  # RunConfig
    pretrain: bool = False  # its product is a backbone for the next rung, not a model to keep
    parent: str | None = None  # the measured run that prices it (same network, other settings)


def _copy(config, **changes):
    """A deep copy of ``config`` with dotted ``changes`` (``train.epochs=8``), validated again."""
    from clinitui.config.overrides import validate

    data = config.model_dump(exclude_none=True)
    for dotted, value in changes.items():
        section, _, key = dotted.partition(".")
        if value is None:
            data.get(section, {}).pop(key, None)
        else:
            data.setdefault(section, {})[key] = value
    return validate(data, "time-budget candidate")


def describe(config, backbone: str | None = None) -> str:
    """What a network config is, in the table's words (``backbone``: its name when the config holds a folder)."""
    text = f"{backbone or config.model.backbone} + {config.model.adapter}, {config.train.epochs} epochs, seed {config.train.seed}"
    return text + (", blended with TF-IDF" if config.model.ensemble not in (None, "none") else "")


def ladder(base, results: dict[str, dict], *, pretrain_text: str | None, unlabeled: list[str],
           n_train: int) -> Iterator[Proposal]:
    """Every rung in order; ``results`` maps a candidate's name to its journal record (status, val score,
    backbone folder). ``base`` is the prepared config the user asked for."""
    tfidf = _copy(base, **{"model.backbone": RunKind.TFIDF.value})
    yield Proposal("tfidf", "TF-IDF + logistic regression", tfidf)
    if config_kind(base) is RunKind.TFIDF:
        return
    yield Proposal("network", describe(base), base)
    if pretrain_text is not None:
        yield _pretrain(base, pretrain_text, unlabeled, n_train)
        folder = (results.get("pretrain") or {}).get("backbone")
        if folder:
            tuned = _copy(base, **{"model.backbone": folder})
            yield Proposal("pretrained", describe(base, f"{base.model.backbone} pretrained here"), tuned,
                           parent="network")
    done = {n: results[n] for n in NETWORKS if (results.get(n) or {}).get("status") == "finished"
            and results[n].get("val_score") is not None}  # variants of these two only, never of a variant
    if not done:
        return
    parent = max(done, key=lambda n: done[n]["val_score"])
    cfg = _parent_config(parent, base, results)
    tuned = f"{base.model.backbone} pretrained here" if parent == "pretrained" else None
    if not done[parent].get("stopped_early"):
        more = _copy(cfg, **{"train.epochs": cfg.train.epochs * 2})
        yield Proposal(f"{parent}+epochs", describe(more, tuned), more, parent=parent)
    adapter = ALT_ADAPTER.get(cfg.model.adapter, "grn")
    other = _copy(cfg, **{"model.adapter": adapter, "model.adapter_options": {}})
    yield Proposal(f"{parent}+{adapter}", describe(other, tuned), other, parent=parent)
    seed = _copy(cfg, **{"train.seed": cfg.train.seed + 1})
    yield Proposal(f"{parent}+seed", describe(seed, tuned), seed, parent=parent)


def _parent_config(parent: str, base, results: dict[str, dict]):
    if parent == "pretrained":
        return _copy(base, **{"model.backbone": results["pretrain"]["backbone"]})
    return base


def _pretrain(base, text_file: str, unlabeled: list[str], n_train: int) -> Proposal:
    """The pretraining rung at its full length; the search shortens it (``with_steps``) to fit."""
    steps = FULL_PRETRAIN_PASSES * pretrain_steps_per_pass(base, n_train)
    data = base.model_dump(exclude_none=True)
    data["data"]["path"] = text_file
    data["pretrain"] = {"extra_data": list(unlabeled), "steps": steps}
    from clinitui.config.overrides import validate

    config = validate(data, "time-budget pretraining")
    return Proposal("pretrain", f"{base.model.backbone} masked-LM pretraining on the training notes"
                    + (f" + {len(unlabeled)} unlabeled file(s)" if unlabeled else ""), config, pretrain=True)


def pretrain_steps_per_pass(base, n_train: int) -> int:
    """Optimizer steps of one pass over the notes (one window per note: short notes, the usual case)."""
    return max(1, math.ceil(n_train / max(1, base.train.batch_size)))


def with_steps(proposal: Proposal, steps: int) -> Proposal:
    """The pretraining rung shortened to ``steps`` steps, evaluated (and its backbone saved) four times."""
    config = _copy(proposal.config, **{"pretrain.steps": steps, "pretrain.eval_every": max(1, steps // 4)})
    return Proposal(proposal.name, f"{proposal.what}, {steps} steps", config, pretrain=True)
