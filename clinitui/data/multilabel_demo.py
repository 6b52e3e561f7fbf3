"""A small synthetic multi-label corpus for tests and examples (``--task multilabel``).

Each note is assembled from phrase tables by a seeded ``random.Random``: a few findings per
organ system present (its label), distractor sentences, and negated mentions of absent systems,
so that a bag of words is not quite enough. About one note in eight carries no label at all (an
empty set, which is valid), most carry one or two, some three. Purely synthetic; standard library
only; identical output for a given ``(n, seed)`` everywhere.
"""

from __future__ import annotations

import csv
import json
import os
import random

LABELS = {
    "cardio": ["souffle systolique", "tachycardie", "BNP élevé", "FEVG abaissée", "sous dobutamine"],
    "respi": ["désaturation", "polypnée", "sous oxygène", "crépitants bilatéraux", "détresse respiratoire"],
    "neuro": ["convulsions", "hypotonie axiale", "score de Glasgow bas", "EEG anormal", "somnolence"],
    "renal": ["oligurie", "créatinine élevée", "hyperkaliémie", "dialyse discutée", "diurèse faible"],
    "infectio": ["fièvre", "CRP élevée", "hémocultures positives", "antibiothérapie", "frissons"],
}
FILLER = ["Patient stable ce jour.", "Famille informée.", "Examen clinique réalisé.", "Surveillance continue.",
          "Bilan à recontrôler demain.", "Poids stable.", "Alimentation entérale bien tolérée.", "Pas de douleur."]
NEGATED = "Pas de {} retrouvé."
WEIGHTS = {"cardio": 0.35, "respi": 0.3, "neuro": 0.2, "renal": 0.15, "infectio": 0.25}


def generate_multilabel_notes(n: int = 300, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """(texts, label sets) of ``n`` synthetic notes."""
    r = random.Random(seed)
    texts, sets = [], []
    for _ in range(n):
        labels = [name for name in LABELS if r.random() < WEIGHTS[name]]
        sentences = [r.choice(FILLER) for _ in range(r.randint(2, 5))]
        for name in labels:
            sentences += [f"{p.capitalize()}." for p in r.sample(LABELS[name], r.randint(1, 3))]
        for name in LABELS:
            if name not in labels and r.random() < 0.25:
                sentences.append(NEGATED.format(r.choice(LABELS[name])))
        r.shuffle(sentences)
        texts.append(" ".join(sentences))
        sets.append(sorted(labels))
    return texts, sets


def write_multilabel_file(path: str | os.PathLike, n: int = 300, seed: int = 0, sep: str = "|",
                          split: bool = False) -> None:
    """CSV (labels joined with ``sep``) or, for a ``.jsonl`` path, JSON lines with a list label."""
    texts, sets = generate_multilabel_notes(n, seed)
    splits = ["test" if i % 5 == 0 else "dev" if i % 5 == 1 else "train" for i in range(n)]
    if str(path).endswith(".jsonl"):
        with open(path, "w", encoding="utf-8") as fh:
            for i, (t, s) in enumerate(zip(texts, sets)):
                fh.write(json.dumps({"text": t, "label": s, **({"split": splits[i]} if split else {})},
                                    ensure_ascii=False) + "\n")
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", *(["split"] if split else [])])
        for i, (t, s) in enumerate(zip(texts, sets)):
            w.writerow([t, sep.join(s), *([splits[i]] if split else [])])
