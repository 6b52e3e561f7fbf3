"""The built-in demo corpus: synthetic French paediatric-ICU notes.

``clinitui train`` with no data set falls back to this corpus. Every note is
**synthetic**: it is assembled from phrase tables and random numbers by a
seeded ``random.Random``. No real patient, note or record was used, and the
few first names and room numbers that appear are invented (they exist only
so that de-identification features have something to find).

The task is binary: label 1 = cardiac failure (insuffisance / défaillance
cardiaque), label 0 = no cardiac failure. The corpus is shaped like the
clinical study it stands in for: about 5,400 notes, about 36 % positive,
about 107 words per note (median near 100) with a few percent of notes past
256 words, and it is deliberately *not* trivially separable: negative notes
mention cardiac terms negated, hedged or in the history, positive notes
sometimes rely only on indirect signs (high BNP, low FEVG, inotropes,
diuretics), and about 6 % of labels are flipped. A TF-IDF + logistic
regression baseline reaches a macro-F1 of roughly 0.85, not 1.0.

Pure standard library (``random``, ``csv``): importing it is instant and the
output for a given ``(n, seed)`` is identical across processes and machines.
"""

from __future__ import annotations

import csv
import os
import random

__all__ = ["generate_notes", "write_demo_csv"]

POSITIVE_RATE = 0.34
LABEL_NOISE = 0.06

# --------------------------------------------------------------------------
# Phrase tables. "{...}" fields are filled by _fill() with random numbers.
# --------------------------------------------------------------------------

REASONS_CARDIAC = [
    "myocardite aiguë", "suspicion de myocardite", "cardiopathie congénitale décompensée",
    "post-opératoire de fermeture de CIV", "post-opératoire de cure complète de tétralogie de Fallot",
    "post-opératoire de chirurgie cardiaque (CEC)", "cardiomyopathie dilatée", "canal atrioventriculaire",
    "CIV large", "coarctation de l'aorte", "trouble du rythme (TSV)", "dyspnée avec tachycardie",
    "bilan de souffle cardiaque", "post-opératoire de fermeture de CIA", "péricardite",
]
REASONS_OTHER = [
    "bronchiolite à VRS", "sepsis", "choc septique", "pneumopathie hypoxémiante", "état de mal épileptique",
    "status épilepticus", "traumatisme crânien grave", "acidocétose diabétique (DKA)", "coqueluche maligne",
    "déshydratation sévère sur gastro-entérite", "méningite bactérienne", "polytraumatisme", "asthme aigu grave",
    "surveillance post-opératoire de chirurgie digestive", "noyade", "intoxication médicamenteuse",
    "purpura fulminans", "SDRA", "insuffisance respiratoire aiguë", "crise vaso-occlusive avec STA",
]
HISTORY_NEUTRAL = [
    "Pas d'antécédent notable.", "ATCD : prématurité à {ga} SA.", "ATCD : asthme du nourrisson.",
    "ATCD : épilepsie sous valproate.", "ATCD : drépanocytose SS.", "Vaccinations à jour.",
    "ATCD : reflux gastro-œsophagien.", "Né à terme, eutrophe.", "ATCD : trisomie 21.", "Pas d'allergie connue.",
    "ATCD : bronchodysplasie pulmonaire.", "ATCD : syndrome néphrotique corticosensible.",
]
HISTORY_CARDIAC = [
    "ATCD de CIV opérée à {m} mois, sans séquelle.", "Suivi en cardiologie pour une CIA, FEVG conservée au dernier contrôle.",
    "ATCD : tétralogie de Fallot opérée, bon résultat.", "ATCD de myocardite il y a {y} ans, guérie.",
    "Souffle fonctionnel connu, ETT normale en {yr}.", "ATCD : CIV musculaire restrictive, simple surveillance.",
    "ATCD familial de cardiomyopathie, bilan cardiologique normal.", "ATCD de Kawasaki sans anévrisme coronaire.",
]

# Evidence categories: for each, phrases for a clear positive sign (P), a
# hedged / borderline finding (A) and a normal or negated finding (N).
EVIDENCE = {
    "dx": {
        "P": ["Tableau d'insuffisance cardiaque aiguë.", "Défaillance cardiaque gauche.", "Choc cardiogénique.",
              "IC décompensée.", "Décompensation cardiaque globale.", "Insuffisance cardiaque congestive.",
              "Bas débit cardiaque.", "Dysfonction myocardique sévère.", "Syndrome de bas débit post-CEC."],
        "A": ["Possible dysfonction VG à recontrôler.", "Ne peut exclure une composante cardiaque.",
              "Origine cardiaque de la dyspnée à discuter.", "Myocardite débutante non exclue, à surveiller.",
              "Part cardiogénique possible dans le choc.", "Doute sur une défaillance cardiaque débutante."],
        "N": ["Pas de signe d'insuffisance cardiaque.", "Pas d'argument pour une défaillance cardiaque.",
              "Pas de défaillance hémodynamique.", "Hémodynamique stable.", "Pas de signe de bas débit.",
              "Absence de signe de décompensation cardiaque.", "Fonction cardiaque normale."],
    },
    "bnp": {
        "P": ["BNP {bnp_hi} pg/mL.", "NT-proBNP {ntp_hi} pg/mL.", "BNP très élevé à {bnp_hi} pg/mL.",
              "BNP {bnp_hi}, troponine {tropo_hi} ng/L."],
        "A": ["BNP {bnp_mid} pg/mL, à recontrôler.", "BNP modérément élevé ({bnp_mid} pg/mL).",
              "Troponine {tropo_mid} ng/L, discrètement élevée.", "NT-proBNP {ntp_mid} pg/mL."],
        "N": ["BNP normal.", "BNP {bnp_lo} pg/mL.", "Troponine négative.", "BNP {bnp_lo}, troponine < 10 ng/L.",
              "NT-proBNP normal pour l'âge."],
    },
    "echo": {
        "P": ["ETT : FEVG {fe_lo} %, dysfonction VG sévère.", "ETT : VG dilaté hypokinétique, FEVG {fe_lo} %.",
              "Echo : FEVG {fe_lo} %, IM fonctionnelle.", "ETT : dysfonction biventriculaire, FEVG {fe_lo} %.",
              "Echo cœur : FR {fr_lo} %, VD dilaté, épanchement péricardique modéré."],
        "A": ["ETT : FEVG {fe_mid} %, à recontrôler.", "Echo : FEVG limite à {fe_mid} %.",
              "ETT : discrète hypokinésie septale, FEVG {fe_mid} %.", "ETT : petite lame d'épanchement péricardique."],
        "N": ["ETT : FEVG conservée ({fe_hi} %).", "ETT normale.", "Echo : bonne fonction VG, pas d'épanchement.",
              "ETT : FEVG {fe_hi} %, cavités non dilatées.", "Echo : pas de dysfonction VG ni VD."],
    },
    "exam": {
        "P": ["Hépatomégalie à {hep} cm sous le rebord costal.", "Œdèmes des membres inférieurs.",
              "Râles crépitants aux deux bases.", "TRC allongé à {trc} s, marbrures.", "Galop à l'auscultation.",
              "Turgescence jugulaire, hépatomégalie.", "Extrémités froides, pouls filants."],
        "A": ["Foie à {hep_a} cm, à surveiller.", "Discrets œdèmes palpébraux.", "TRC limite à 3 s.",
              "Quelques crépitants à droite.", "Marbrures fugaces."],
        "N": ["Absence d'hépatomégalie.", "Pas d'œdème.", "TRC < 2 s, extrémités chaudes.",
              "Auscultation cardiaque normale.", "Pouls périphériques bien perçus.", "Pas de marbrure."],
    },
    "tx": {
        "P": ["Introduction de milrinone {mil} µg/kg/min.", "Dobutamine {dobu} µg/kg/min.",
              "Furosémide {furo} mg/kg IV.", "Milrinone et furosémide.", "Restriction hydrique, furosémide.",
              "Mise sous adrénaline {adr} µg/kg/min et milrinone.", "Discussion ECMO avec les chirurgiens.",
              "Assistance par ECMO VA."],
        "A": ["Furosémide {furo} mg/kg ponctuel.", "Adrénaline {adr} µg/kg/min.", "Noradrénaline {nad} µg/kg/min.",
              "Remplissage prudent.", "Bolus de furosémide, à réévaluer."],
        "N": ["Pas de drogue vasoactive.", "Sevrage de la noradrénaline.", "Remplissage 20 mL/kg.",
              "Pas de diurétique.", "Arrêt des amines."],
    },
    "rx": {
        "P": ["Radio : cardiomégalie, ICT {ict_hi}.", "RP : surcharge vasculaire, aspect d'OAP.",
              "Radio : cardiomégalie et épanchement pleural bilatéral."],
        "A": ["Radio : ICT limite à {ict_mid}.", "RP : discrète surcharge hilaire ?"],
        "N": ["Radio : ICT normal.", "RP : pas de cardiomégalie.", "Radio : {rxother}."],
    },
}
RX_OTHER = ["atélectasie lobaire supérieure droite", "distension thoracique", "foyer alvéolaire gauche",
            "syndrome interstitiel bilatéral", "pas de foyer", "pneumothorax droit drainé"]

# Label-neutral sentences (the bulk of each note).
VITALS = [
    "FC {fc}/min, TA {tas}/{tad}, SpO2 {spo2} % {o2}.", "FR {fr}/min, T° {temp} °C.", "FC {fc}/min, FR {fr}/min.",
    "TA {tas}/{tad} mmHg, PAM {pam}.", "SpO2 {spo2} % {o2}, FR {fr}/min, signes de lutte {lutte}.",
    "T° {temp} °C, FC {fc}/min.", "Diurèse {diur} mL/kg/h.",
]
O2 = ["en AA", "sous {l} L O2", "sous OHD {l} L/min", "sous VNI", "intubé-ventilé", "sous lunettes {l} L"]
LUTTE = ["modérés", "intenses", "minimes", "absents"]
NEUTRAL = {
    "resp": ["Intubation le J{j} pour épuisement respiratoire.", "VNI en mode {vni}, bien tolérée.",
             "Sevrage de l'OHD en cours.", "Extubation prévue demain.", "Ventilation en VAC, FiO2 {fio2} %.",
             "Gazométrie : pH {ph}, pCO2 {pco2} mmHg.", "Aspirations naso-pharyngées régulières.",
             "Kinésithérapie respiratoire deux fois par jour.", "Encombrement bronchique important."],
    "neuro": ["Score de Glasgow {gcs}.", "Sédation par midazolam et sufentanil.", "Pupilles symétriques réactives.",
              "Pas de crise convulsive depuis H{h}.", "EEG : tracé ralenti sans activité critique.",
              "Réveil calme.", "Comfort-B {cb}.", "Levétiracétam {lev} mg/kg/j.", "Enfant douloureux, EVA {eva}/10."],
    "bio": ["Lactates {lac} mmol/L.", "Créatinine {creat} µmol/L.", "CRP {crp} mg/L, PCT {pct} ng/mL.",
            "Hb {hb} g/dL, plaquettes {plq} G/L.", "Na {na} mmol/L, K {k} mmol/L.", "Glycémie {gly} mmol/L.",
            "Urée {uree} mmol/L.", "Leucocytes {leuco} G/L.", "ASAT {asat} UI/L, ALAT {alat} UI/L.",
            "Albumine {alb} g/L.", "Bilan hépatique normal."],
    "inf": ["Hémoculture positive à {germ}.", "Antibiothérapie par {atb}.", "Prélèvements bactériologiques en cours.",
            "PCR VRS positive.", "Arrêt des antibiotiques à J{j}.", "Apyrexie depuis {h} h.", "Isolement contact."],
    "nutri": ["Alimentation entérale continue {ml} mL/kg/j.", "Reprise alimentaire progressive.",
              "Nutrition parentérale par KTC.", "Poids {kg} kg.", "Sonde naso-gastrique en place.",
              "Apports hydriques {ml} mL/kg/j."],
    "renal": ["Diurèse conservée.", "Bilan entrées-sorties positif à {bil} mL.", "Pas d'insuffisance rénale.",
              "Sondage urinaire.", "Insuffisance rénale fonctionnelle en amélioration."],
    "misc": ["KTC jugulaire droit posé le J{j}.", "Cathéter artériel radial.", "Parents présents et informés.",
             "Parents vus ce jour, inquiets.", "Pas d'escarre.", "Prévention des escarres.", "Chambre {room}.",
             "Transfert en pédiatrie envisagé.", "Avis {spec} demandé.", "Staff médical ce matin.",
             "Entretien avec la maman de {name}.", "Bonne nuit, pas d'événement.", "Scope et saturation continus."],
}
NEUTRAL["hemo"] = VITALS
NEUTRAL["evol"] = [  # day-by-day entries; the only templates that may repeat within a note
    "Evolution à J{j} : {evo}.", "J{j} : {evo}, FC {fc}/min.", "Nuit du J{j} : {evo}.", "H{h} : {evo}, SpO2 {spo2} %.",
    "J{j} : {evo}, T° {temp} °C.", "Relève de J{j} : {evo}.",
]
EVENTS = [
    "stable", "pic fébrile à {temp} °C", "désaturation lors des soins", "agitation, bolus de midazolam",
    "bonne tolérance de l'alimentation", "vomissements", "extubation réussie", "diurèse {diur} mL/kg/h",
    "lactates {lac} mmol/L", "reprise de la VNI", "baisse de la FiO2 à {fio2} %", "pas d'événement",
    "glycémie {gly} mmol/L", "hypokaliémie corrigée", "pose d'un KTC", "changement d'antibiotique pour {atb}",
    "selles liquides", "douleur contrôlée", "réveil progressif", "apnée résolutive à la stimulation",
]
_POOL = [(key, tpl) for key, tpls in NEUTRAL.items() for tpl in tpls]
SECTION_TITLES = {"resp": ["Respiratoire :", "Resp :", "Sur le plan respiratoire,"],
                  "neuro": ["Neuro :", "Neurologique :", "Sur le plan neurologique,"],
                  "bio": ["Biologie :", "Bio :", "Bilan :"], "inf": ["Infectieux :", "Infectio :"],
                  "nutri": ["Nutrition :", "Digestif :"], "renal": ["Rénal :", "Néphro :"],
                  "misc": ["Divers :", "Autres :", ""], "hemo": ["Hémodynamique :", "HD :", "Cardio :"],
                  "evol": ["Evolution :", "Depuis hier :", ""]}
PLANS = ["Plan : poursuite de la surveillance.", "Conduite à tenir : surveillance scopée.",
         "Plan : réévaluation demain.", "A revoir à la visite du soir.", "Poursuite du traitement en cours.",
         "Contrôle biologique demain matin.", "Plan : ETT de contrôle à J{j}.", "Plan : bilan entrées-sorties strict.",
         "Transfert en service conventionnel si stable.", "Information des parents faite."]
OPENINGS = [
    "{age}, admis en réanimation pédiatrique pour {reason}.", "{age} hospitalisé en réa ped pour {reason}.",
    "{age}. Motif d'admission : {reason}.", "{age}, transféré du SAU pour {reason}.",
    "J{j} d'hospitalisation. {age} admis pour {reason}.", "{age} pris en charge pour {reason}.",
    "Note de garde. {age}, {reason}.", "{age} hospitalisé depuis J{j} pour {reason}.",
]
REASON_DETAILS = {  # first keyword found in the admission reason adds one matching sentence
    "bronchiolite": ["Bronchiolite au {j}e jour d'évolution.", "Apnées à domicile.", "Sibilants et freinage expiratoire."],
    "sep": ["Porte d'entrée {porte}.", "Remplissage {rempl} mL/kg à l'admission.", "Choc chaud à l'arrivée."],
    "purpura": ["Purpura extensif nécrotique.", "Ceftriaxone au domicile par le SMUR."],
    "acidocétose": ["Cétonémie {ket} mmol/L à l'admission.", "Insulinothérapie IV 0,05 UI/kg/h.",
                    "Réhydratation selon protocole DKA."],
    "épilep": ["Crise tonico-clonique généralisée de {min} min.", "Clonazépam puis phénytoïne à l'admission."],
    "trauma": ["Scanner cérébral : {lesion}.", "PIC {pic} mmHg, PPC {ppc} mmHg.", "Collier cervical en place."],
    "opératoire de": ["Temps de CEC {cec} min, clampage {clamp} min.", "Drains médiastinaux peu productifs.",
                      "Pace-maker épicardique en veille.", "Sortie de bloc à H{h}."],
    "cardite": ["Syndrome grippal la semaine précédente.", "ECG : microvoltage, troubles de la repolarisation.",
                "PCR entérovirus en cours."],
    "CIV": ["Souffle holosystolique 3/6.", "Cassure de la courbe pondérale."],
    "asthme": ["Salbutamol en continu.", "Sulfate de magnésium IV."],
}
GERMS = ["S. aureus", "E. coli", "pneumocoque", "méningocoque", "streptocoque A", "K. pneumoniae"]
ATB = ["céfotaxime", "céfotaxime et vancomycine", "amoxicilline", "pipéracilline-tazobactam", "ceftriaxone"]
SPEC = ["cardiologique", "neurologique", "chirurgical", "néphrologique", "infectiologique", "diététique"]
NAMES = ["Léa", "Noah", "Inès", "Lucas", "Jade", "Adam", "Chloé", "Hugo", "Maël", "Louise"]

# Probability of each evidence state (P, A, N, absent) given the latent
# profile. These numbers are the difficulty knobs of the corpus.
PROFILES = {
    # positive profiles: (weight within positives, {category: (P, A, N)})
    "pos_explicit": (0.50, {"dx": (.80, .10, .0), "bnp": (.60, .20, .0), "echo": (.60, .20, .0),
                            "exam": (.55, .20, .05), "tx": (.65, .15, .0), "rx": (.25, .10, .05)}),
    "pos_indirect": (0.30, {"dx": (.0, .30, .05), "bnp": (.55, .30, .0), "echo": (.50, .30, .05),
                            "exam": (.35, .30, .10), "tx": (.50, .25, .05), "rx": (.20, .15, .05)}),
    "pos_subtle": (0.20, {"dx": (.10, .40, .10), "bnp": (.25, .40, .10), "echo": (.20, .40, .15),
                          "exam": (.20, .35, .15), "tx": (.20, .40, .10), "rx": (.10, .20, .10)}),
    # negative profiles
    "neg_cardiac": (0.30, {"dx": (.05, .35, .45), "bnp": (.10, .35, .40), "echo": (.10, .35, .50),
                           "exam": (.10, .30, .35), "tx": (.10, .35, .30), "rx": (.05, .20, .25)}),
    "neg_sick": (0.30, {"dx": (.02, .30, .50), "bnp": (.05, .25, .35), "echo": (.05, .25, .45),
                        "exam": (.10, .30, .30), "tx": (.10, .45, .25), "rx": (.03, .15, .35)}),
    "neg_plain": (0.40, {"dx": (.0, .05, .45), "bnp": (.0, .05, .25), "echo": (.0, .05, .30),
                         "exam": (.02, .10, .35), "tx": (.0, .10, .35), "rx": (.0, .05, .40)}),
}
POS_PROFILES = ["pos_explicit", "pos_indirect", "pos_subtle"]
NEG_PROFILES = ["neg_cardiac", "neg_sick", "neg_plain"]
P_CARDIAC_REASON = {"pos_explicit": 0.75, "pos_indirect": 0.6, "pos_subtle": 0.45,
                    "neg_cardiac": 0.7, "neg_sick": 0.15, "neg_plain": 0.1}


class _Rng(random.Random):
    """``random.Random`` with cheaper ``choice``/``randint`` (still seeded and deterministic)."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randint(self, a, b):
        return a + int(self.random() * (b - a + 1))


def _dec(lo: float, hi: float):
    """A slot that draws a one-decimal number written the French way (3,2)."""
    return lambda r: f"{r.uniform(lo, hi):.1f}".replace(".", ",")


def _int(lo: int, hi: int):
    span = hi - lo + 1
    return lambda r: lo + int(r.random() * span)


def _pick(seq):
    n = len(seq)
    return lambda r: seq[int(r.random() * n)]


SLOTS = {
    "ga": _int(26, 36), "m": _int(2, 18), "y": _int(1, 6), "yr": _int(2015, 2023),
    "bnp_hi": _int(600, 4800), "bnp_mid": _int(150, 600), "bnp_lo": _int(8, 90),
    "ntp_hi": _int(3000, 35000), "ntp_mid": _int(600, 3000), "tropo_hi": _int(80, 2500),
    "tropo_mid": _int(20, 80), "fe_lo": _int(15, 42), "fe_mid": _int(42, 54), "fe_hi": _int(56, 75),
    "fr_lo": _int(10, 22), "hep": _int(3, 6), "hep_a": _int(2, 3), "trc": _int(3, 6),
    "mil": _pick(["0,3", "0,5", "0,7"]), "dobu": _pick([5, 7, 10]), "furo": _pick(["0,5", "1", "2"]),
    "adr": _pick(["0,05", "0,1", "0,2", "0,3"]), "nad": _pick(["0,1", "0,2", "0,4"]),
    "ict_hi": _pick(["0,62", "0,65", "0,70"]), "ict_mid": _pick(["0,55", "0,58"]), "rxother": _pick(RX_OTHER),
    "fc": _int(70, 210), "tas": _int(55, 120), "tad": _int(25, 75), "pam": _int(35, 85), "spo2": _int(82, 100),
    "fr": _int(18, 80), "temp": _dec(35.8, 40.2), "diur": _dec(0.3, 4), "l": _int(1, 12), "o2": lambda r: _fill(r, r.choice(O2)),
    "lutte": _pick(LUTTE), "j": _int(1, 12), "h": _pick([6, 12, 24, 48, 72]),
    "vni": _pick(["VS-AI-PEP", "BiPAP", "CPAP"]), "fio2": _pick([21, 25, 30, 40, 50, 60, 80]),
    "ph": lambda r: f"7,{r.randint(12, 45)}", "pco2": _int(32, 95), "gcs": _int(6, 15), "cb": _int(10, 24),
    "lev": _pick([20, 40, 60]), "eva": _int(0, 8), "lac": _dec(0.6, 7.5), "creat": _int(15, 180),
    "crp": _int(1, 320), "pct": _dec(0.05, 40), "hb": _dec(6.5, 15), "plq": _int(30, 600), "na": _int(126, 152),
    "k": _dec(2.8, 6.2), "gly": _dec(3, 35), "uree": _dec(1.5, 25), "leuco": _dec(2, 35), "asat": _int(15, 900),
    "alat": _int(10, 700), "alb": _int(18, 42), "germ": _pick(GERMS), "atb": _pick(ATB),
    "ml": _pick([60, 80, 100, 120, 150]), "kg": _dec(2.5, 60), "bil": _int(50, 900), "room": _int(1, 24),
    "spec": _pick(SPEC), "name": _pick(NAMES), "ket": _dec(3, 7.5), "min": _pick([15, 20, 30, 45, 60]),
    "porte": _pick(["pulmonaire", "urinaire", "cutanée", "digestive", "non retrouvée"]), "rempl": _pick([20, 40, 60]),
    "lesion": _pick(["hématome extradural", "contusions frontales", "œdème cérébral diffus", "HSD aigu"]),
    "evo": lambda r: _fill(r, r.choice(EVENTS)), "pic": _int(8, 35), "ppc": _int(35, 70), "cec": _int(60, 220), "clamp": _int(30, 130),
}
_COMPILED: dict[str, list] = {}


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


def _age(r: random.Random) -> str:
    x = r.random()
    if x < 0.12:
        return r.choice(["Nouveau-né de {} jours".format(r.randint(2, 27)), "Nouveau-né à J{}".format(r.randint(2, 27))])
    if x < 0.50:
        m = r.randint(1, 23)
        return r.choice(["Nourrisson de {} mois", "Nourrisson de {} mois", "Enfant de {} mois"]).format(m)
    y = r.randint(2, 17)
    if y >= 12 and r.random() < 0.5:
        return "Adolescent{} de {} ans".format(r.choice(["", "e"]), y)
    return "Enfant de {} an{}".format(y, "s" if y > 1 else "")


def _target_length(r: random.Random) -> int:
    """Words per note: a log-normal bulk (median ~90) plus a ~4 % long tail."""
    if r.random() < 0.04:
        return r.randint(262, 400)
    return max(35, min(250, int(r.lognormvariate(4.43, 0.25))))


def _evidence(r: random.Random, profile: str) -> list[str]:
    """The label-bearing sentences of one note, in random order."""
    out = []
    for cat, (p, a, n) in PROFILES[profile][1].items():
        x = r.random()
        state = "P" if x < p else "A" if x < p + a else "N" if x < p + a + n else None
        if state:
            out.append(_fill(r, r.choice(EVIDENCE[cat][state])))
    r.shuffle(out)
    return out


def _note(r: random.Random, profile: str) -> str:
    cardiac = r.random() < P_CARDIAC_REASON[profile]
    reason = r.choice(REASONS_CARDIAC if cardiac else REASONS_OTHER)
    opening = r.choice(OPENINGS).format(age=_age(r), reason=reason, j=r.randint(1, 15))
    parts = [opening]
    if r.random() < 0.6:
        hist = HISTORY_CARDIAC if (profile == "neg_cardiac" or cardiac) and r.random() < 0.5 else HISTORY_NEUTRAL
        parts.append(_fill(r, r.choice(hist)))
    for kw, details in REASON_DETAILS.items():
        if kw in reason:
            parts.append(_fill(r, r.choice(details)))
            break
    target = _target_length(r) - 8
    words = sum(len(x.split()) for x in parts)
    evidence = _evidence(r, profile)
    words += sum(len(e.split()) for e in evidence)
    # Sections of label-neutral sentences (no template twice, except day-by-day
    # entries), drawn until the note reaches its target length.
    rand, pool, npool = r.random, _POOL, len(_POOL)
    by_key: dict[str, list[str]] = {"hemo": [_fill(r, r.choice(VITALS))]}
    used = set()
    while words < target:
        i = int(rand() * npool)
        if i in used:
            continue
        key, tpl = pool[i]
        if key != "evol":
            used.add(i)
        x = _fill(r, tpl)
        sec = by_key.get(key)
        if sec is None:
            by_key[key] = [x]
        else:
            sec.append(x)
        words += len(x.split())
    sections = list(by_key.items())
    for e in evidence:  # the label-bearing sentences land at random places
        body = sections[int(rand() * len(sections))][1]
        body.insert(int(rand() * (len(body) + 1)), e)
    r.shuffle(sections)
    titled = rand() < 0.6
    for key, body in sections:
        title = r.choice(SECTION_TITLES[key]) if titled else ""
        if title.endswith(","):
            body[0] = body[0][0].lower() + body[0][1:]
        parts.append((title + " " if title else "") + " ".join(body))
    parts.append(_fill(r, r.choice(PLANS)))
    return " ".join(parts)


def generate_notes(n: int = 5400, seed: int = 0) -> tuple[list[str], list[int]]:
    """Return ``(texts, labels)``: ``n`` synthetic PICU notes and their 0/1 labels.

    Deterministic: the same ``(n, seed)`` gives the same output in any process.
    About 36 % of labels are 1 (cardiac failure); about 6 % of labels are
    deliberately flipped (label noise, as in real annotations).
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    r = _Rng(seed)
    texts: list[str] = []
    labels: list[int] = []
    pos_w = [PROFILES[p][0] for p in POS_PROFILES]
    neg_w = [PROFILES[p][0] for p in NEG_PROFILES]
    for _ in range(n):
        y = 1 if r.random() < POSITIVE_RATE else 0
        profile = r.choices(POS_PROFILES if y else NEG_PROFILES, weights=pos_w if y else neg_w)[0]
        texts.append(_note(r, profile))
        if r.random() < LABEL_NOISE:
            y = 1 - y
        labels.append(y)
    return texts, labels


def write_demo_csv(path: str | os.PathLike, n: int = 5400, seed: int = 0) -> None:
    """Write the demo corpus to ``path`` as a UTF-8 CSV with header ``text,label``."""
    texts, labels = generate_notes(n, seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        w.writerow(["text", "label"])
        for t, y in zip(texts, labels):
            w.writerow([t, y])
