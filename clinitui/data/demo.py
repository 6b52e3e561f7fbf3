"""The built-in demo corpus: synthetic French paediatric-ICU notes.

``clinitui train`` with no data set falls back to this corpus. Every note is
**synthetic**: it is assembled from the phrase tables of data/demo_phrases.py
and random numbers drawn by a seeded ``random.Random``. No real patient, note
or record was used; the few first names and room numbers that appear are
invented (they exist only so that de-identification features have something
to find).

The task is binary: label 1 = cardiac failure (insuffisance / défaillance
cardiaque), label 0 = no cardiac failure. The corpus is shaped like the
clinical study it stands in for: about 5,400 notes, about 36 % positive,
about 107 words per note (median near 100), a few percent of notes past 256
words. It is deliberately *not* trivially separable: negative notes mention
cardiac terms negated, hedged or in the history; positive notes sometimes rely
only on indirect signs (high BNP, low FEVG, inotropes, diuretics); findings
are often borderline ("à recontrôler"); and about 5 % of labels are flipped.
A TF-IDF + logistic-regression baseline reaches a macro-F1 of about 0.85.

Pure standard library (``random``, ``csv``): importing it is instant, and the
output for a given ``(n, seed)`` is identical across processes and machines.
"""

from __future__ import annotations

import csv
import os
import random

from clinitui.data.demo_phrases import (
    ATB, CONCLUSIONS, EVENTS, EVIDENCE, EVIDENCE_SECTION, GERMS, HISTORY_CARDIAC, HISTORY_NEUTRAL, NAMES,
    NEUTRAL, O2, OPENINGS, PLANS, REASONS_CARDIAC, REASONS_OTHER, REASON_DETAILS, RX_OTHER, SECTION_TITLES,
    SPEC,
)

__all__ = ["generate_notes", "write_demo_csv"]

POSITIVE_RATE = 0.345  # before label noise; about 0.36 after it
LABEL_NOISE = 0.05

# The difficulty knobs. A latent profile per note gives, for each evidence
# category, the probability of a clear (P), hedged (A) and normal (N) sentence
# (the rest: the category is not mentioned). Weights are within each class.
PROFILES = {
    "pos_explicit": (0.60, {"dx": (.80, .10, .0), "bnp": (.60, .20, .0), "echo": (.60, .20, .0),
                            "exam": (.55, .20, .05), "tx": (.65, .15, .0), "rx": (.25, .10, .05)}),
    "pos_indirect": (0.25, {"dx": (.0, .30, .05), "bnp": (.55, .30, .0), "echo": (.50, .30, .05),
                            "exam": (.35, .30, .10), "tx": (.50, .25, .05), "rx": (.20, .15, .05)}),
    "pos_subtle": (0.15, {"dx": (.10, .40, .10), "bnp": (.25, .40, .10), "echo": (.20, .40, .15),
                          "exam": (.20, .35, .15), "tx": (.20, .40, .10), "rx": (.10, .20, .10)}),
    "neg_cardiac": (0.30, {"dx": (.02, .35, .45), "bnp": (.05, .35, .40), "echo": (.05, .35, .50),
                           "exam": (.10, .30, .35), "tx": (.05, .35, .30), "rx": (.05, .20, .25)}),
    "neg_sick": (0.30, {"dx": (.02, .30, .50), "bnp": (.05, .25, .35), "echo": (.05, .25, .45),
                        "exam": (.05, .30, .30), "tx": (.05, .45, .25), "rx": (.03, .15, .35)}),
    "neg_plain": (0.40, {"dx": (.0, .05, .45), "bnp": (.0, .05, .25), "echo": (.0, .05, .30),
                         "exam": (.02, .10, .35), "tx": (.0, .10, .35), "rx": (.0, .05, .40)}),
}
POS_PROFILES = ["pos_explicit", "pos_indirect", "pos_subtle"]
NEG_PROFILES = ["neg_cardiac", "neg_sick", "neg_plain"]
P_CARDIAC_REASON = {"pos_explicit": 0.75, "pos_indirect": 0.6, "pos_subtle": 0.45,
                    "neg_cardiac": 0.7, "neg_sick": 0.15, "neg_plain": 0.1}


class _Rng(random.Random):
    """``random.Random`` with cheaper ``choice``/``randint``: still seeded, still deterministic."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randint(self, a, b):
        return a + int(self.random() * (b - a + 1))


def _int(lo: int, hi: int):
    span = hi - lo + 1
    return lambda r: lo + int(r.random() * span)


def _dec(lo: float, hi: float):
    """A slot drawing a one-decimal number written the French way ("3,2")."""
    return lambda r: f"{lo + (hi - lo) * r.random():.1f}".replace(".", ",")


def _pick(seq):
    n = len(seq)
    return lambda r: seq[int(r.random() * n)]


def _nested(table):
    """A slot that is itself a template drawn from ``table`` (e.g. the oxygen support)."""
    return lambda r: _fill(r, r.choice(table))


SLOTS = {
    "ga": _int(26, 36), "m": _int(2, 18), "y": _int(1, 6), "yr": _int(2015, 2023),
    "bnp_hi": _int(600, 4800), "bnp_mid": _int(150, 600), "bnp_lo": _int(8, 90), "ntp_hi": _int(3000, 35000),
    "ntp_mid": _int(600, 3000), "tropo_hi": _int(80, 2500), "tropo_mid": _int(20, 80),
    "fe_lo": _int(15, 42), "fe_mid": _int(42, 54), "fe_hi": _int(56, 75), "fr_lo": _int(10, 22),
    "hep": _int(3, 6), "hep_a": _int(2, 3), "trc": _int(3, 6), "mil": _pick(["0,3", "0,5", "0,7"]),
    "dobu": _pick([5, 7, 10]), "furo": _pick(["0,5", "1", "2"]), "adr": _pick(["0,05", "0,1", "0,2", "0,3"]),
    "nad": _pick(["0,1", "0,2", "0,4"]), "ict_hi": _pick(["0,62", "0,65", "0,70"]), "ict_mid": _pick(["0,55", "0,58"]),
    "rxother": _pick(RX_OTHER), "fc": _int(75, 200), "tas": _int(55, 120), "tad": _int(25, 75), "pam": _int(35, 85),
    "spo2": _int(82, 100), "fr": _int(18, 75), "temp": _dec(35.8, 40.2), "diur": _dec(0.3, 4), "l": _int(1, 12),
    "o2": _nested(O2), "lutte": _pick(["modérés", "intenses", "minimes", "absents"]), "j": _int(1, 12),
    "h": _pick([6, 12, 24, 48, 72]), "vni": _pick(["VS-AI-PEP", "BiPAP", "CPAP"]),
    "fio2": _pick([21, 25, 30, 40, 50, 60, 80]), "ph": lambda r: f"7,{r.randint(12, 45)}", "pco2": _int(32, 95),
    "gcs": _int(6, 15), "cb": _int(10, 24), "lev": _pick([20, 40, 60]), "eva": _int(3, 8), "lac": _dec(0.6, 7.5),
    "creat": _int(15, 180), "crp": _int(1, 320), "pct": _dec(0.1, 40), "hb": _dec(6.5, 15), "plq": _int(30, 600),
    "na": _int(126, 152), "k": _dec(2.8, 6.2), "gly": _dec(3, 35), "uree": _dec(1.5, 25), "leuco": _dec(2, 35),
    "asat": _int(15, 900), "alat": _int(10, 700), "alb": _int(18, 42), "tp": _int(45, 100), "germ": _pick(GERMS),
    "atb": _pick(ATB), "ml": _pick([60, 80, 100, 120, 150]), "bil": _int(50, 900), "room": _int(1, 24),
    "spec": _pick(SPEC), "name": _pick(NAMES), "ket": _dec(3, 7.5), "min": _pick([15, 20, 30, 45, 60]),
    "porte": _pick(["pulmonaire", "urinaire", "cutanée", "digestive", "non retrouvée"]), "rempl": _pick([20, 40, 60]),
    "lesion": _pick(["hématome extradural", "contusions frontales", "œdème cérébral diffus", "HSD aigu"]),
    "evo": _nested(EVENTS), "pic": _int(8, 35), "ppc": _int(35, 70), "cec": _int(60, 220), "clamp": _int(30, 130),
}
_COMPILED: dict[str, list] = {}
_POOL = [(key, tpl) for key, tpls in NEUTRAL.items() for tpl in tpls]


def _fill(r: random.Random, template: str) -> str:
    """Replace the "{slot}" fields of a template with random values from SLOTS."""
    if "{" not in template:
        return template
    pieces = _COMPILED.get(template)
    if pieces is None:  # split "a {x} b" once into ["a ", SLOTS["x"], " b"]
        pieces = []
        for i, chunk in enumerate(template.split("{")):
            if i:
                name, chunk = chunk.split("}", 1)
                pieces.append(SLOTS[name])
            if chunk:
                pieces.append(chunk)
        _COMPILED[template] = pieces
    return "".join([p if p.__class__ is str else str(p(r)) for p in pieces])


def _patient(r: random.Random) -> tuple[str, str, bool]:
    """An age phrase, a plausible weight in kg, and whether the phrase is feminine."""
    x, girl = r.random(), r.random() < 0.45
    if x < 0.12:
        d = r.randint(2, 27)
        return f"Nouveau-né{'e' if girl else ''} de {d} jours", f"{3 + r.random():.1f}".replace(".", ","), girl
    if x < 0.50:
        m = r.randint(1, 23)
        return f"Nourrisson de {m} mois", f"{3.5 + 0.45 * m + r.random():.1f}".replace(".", ","), False
    y = r.randint(2, 17)
    noun = ("Adolescente" if girl else "Adolescent") if y >= 12 else r.choice(["Fille" if girl else "Garçon", "Enfant"])
    return f"{noun} de {y} ans", str(int(2.6 * y + 7 + 6 * r.random())), girl


def _lower_first(s: str) -> str:
    """Lower-case the first letter of a sentence, unless it starts an acronym (ETT, IC)."""
    return s if s[1:2].isupper() else s[0].lower() + s[1:]


def _target_length(r: random.Random) -> int:
    """Target words per note: a log-normal bulk (notes end up ~100 words) plus a ~4 % tail of 262-400."""
    if r.random() < 0.04:
        return r.randint(262, 400)
    return max(35, min(250, int(r.lognormvariate(4.39, 0.25))))


def _note(r: random.Random, profile: str) -> str:
    cardiac = r.random() < P_CARDIAC_REASON[profile]
    reason = r.choice(REASONS_CARDIAC if cardiac else REASONS_OTHER)
    who, kg, girl = _patient(r)
    e = "e" if girl else ""
    parts = [r.choice(OPENINGS).format(who=who, reason=reason, j=r.randint(1, 15), e=e)]
    if r.random() < 0.5:
        parts.append(f"Poids {kg} kg.")
    if r.random() < 0.6:
        hist = HISTORY_CARDIAC if (profile == "neg_cardiac" or cardiac) and r.random() < 0.5 else HISTORY_NEUTRAL
        parts.append(_fill(r, r.choice(hist)).replace("Né à", f"Né{e} à"))
    for keywords, details in REASON_DETAILS:
        if any(k in reason for k in keywords):
            parts.append(_fill(r, r.choice(details)))
            break
    words = sum(len(x.split()) for x in parts)
    rand = r.random
    # Label-bearing sentences, by section; a diagnosis may instead close the note.
    by_key: dict[str, list[str]] = {"hemo": [_fill(r, r.choice(NEUTRAL["hemo"]))]}
    conclusion = None
    for cat, (p, a, n) in PROFILES[profile][1].items():
        x = rand()
        if x < p + a + n:
            s = _fill(r, r.choice(EVIDENCE[cat]["P" if x < p else "A" if x < p + a else "N"]))
            words += len(s.split())
            if cat == "dx" and rand() < 0.5:
                conclusion = s
            else:
                by_key.setdefault(EVIDENCE_SECTION[cat], []).append(s)
    # Label-neutral sentences (no template twice, except day-by-day entries)
    # until the note reaches its target length.
    target = _target_length(r) - 8
    used = set()
    pool, npool = _POOL, len(_POOL)
    while words < target:
        i = int(rand() * npool)
        if i in used:
            continue
        key, tpl = pool[i]
        if key != "evol":
            used.add(i)
        x = _fill(r, tpl)
        body = by_key.get(key)
        if body is None:
            by_key[key] = [x]
        else:
            body.insert(int(rand() * (len(body) + 1)), x)
        words += len(x.split())
    sections = list(by_key.items())
    r.shuffle(sections)
    titled = rand() < 0.6
    for key, body in sections:
        title = r.choice(SECTION_TITLES[key]) if titled else ""
        if title.endswith(","):
            body[0] = _lower_first(body[0])
        parts.append(f"{title} {' '.join(body)}" if title else " ".join(body))
    if conclusion:
        parts.append(f"{r.choice(CONCLUSIONS)} {_lower_first(conclusion)}")
    parts.append(_fill(r, r.choice(PLANS)))
    return " ".join(parts)


def generate_notes(n: int = 5400, seed: int = 0) -> tuple[list[str], list[int]]:
    """Return ``(texts, labels)``: ``n`` synthetic PICU notes and their 0/1 labels.

    Deterministic: the same ``(n, seed)`` gives the same output in any process.
    About 36 % of labels are 1 (cardiac failure), of which a few are noise:
    about 5 % of all labels are deliberately flipped, as in real annotations.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    r = _Rng(seed)
    n_pos = round(n * POSITIVE_RATE)
    truth = [1] * n_pos + [0] * (n - n_pos)
    r.shuffle(truth)
    pos_w = [PROFILES[p][0] for p in POS_PROFILES]
    neg_w = [PROFILES[p][0] for p in NEG_PROFILES]
    texts: list[str] = []
    labels: list[int] = []
    for y in truth:
        profile = r.choices(POS_PROFILES if y else NEG_PROFILES, weights=pos_w if y else neg_w)[0]
        texts.append(_note(r, profile))
        labels.append(1 - y if r.random() < LABEL_NOISE else y)
    return texts, labels


def write_demo_csv(path: str | os.PathLike, n: int = 5400, seed: int = 0) -> None:
    """Write the demo corpus to ``path`` as a UTF-8 CSV with header ``text,label``."""
    texts, labels = generate_notes(n, seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
