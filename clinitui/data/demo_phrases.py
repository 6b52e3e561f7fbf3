"""The phrase tables of the built-in demo corpus (data/demo.py assembles the notes from them).

Synthetic French paediatric-ICU sentences: templates whose "{slot}" fields data/demo.py fills
with seeded random values. No real patient, note or record was used; the few first names are
invented. Pure data, standard library only.
"""

from __future__ import annotations

REASONS_CARDIAC = [
    "myocardite aiguë", "suspicion de myocardite", "cardiopathie congénitale décompensée",
    "post-opératoire de fermeture de CIV sous CEC", "post-opératoire de cure complète de tétralogie de Fallot",
    "post-opératoire de chirurgie cardiaque sous CEC", "cardiomyopathie dilatée", "canal atrioventriculaire complet",
    "CIV large", "coarctation de l'aorte", "tachycardie supraventriculaire (TSV)", "dyspnée avec tachycardie",
    "bilan d'un souffle cardiaque", "post-opératoire de fermeture de CIA sous CEC", "péricardite",
    "syndrome inflammatoire multisystémique (PIMS)", "malaise avec bradycardie",
]
REASONS_OTHER = [
    "bronchiolite à VRS", "sepsis", "choc septique", "pneumopathie hypoxémiante", "état de mal épileptique",
    "status épilepticus", "traumatisme crânien grave", "acidocétose diabétique (DKA)", "coqueluche maligne",
    "déshydratation sévère sur gastro-entérite", "méningite bactérienne", "polytraumatisme", "asthme aigu grave",
    "surveillance post-opératoire de chirurgie digestive", "noyade", "intoxication médicamenteuse",
    "purpura fulminans", "SDRA", "insuffisance respiratoire aiguë", "crise vaso-occlusive avec STA",
]
REASON_DETAILS = [  # (keywords, sentences): the first matching entry adds one sentence
    (("bronchiolite",), ["Bronchiolite au J{j} d'évolution, apnées à domicile.", "Sibilants et freinage expiratoire."]),
    (("sep", "purpura"), ["Porte d'entrée {porte}.", "Remplissage de {rempl} mL/kg à l'admission.",
                          "Choc chaud à l'arrivée, ceftriaxone par le SMUR."]),
    (("DKA",), ["Cétonémie {ket} mmol/L à l'admission.", "Insulinothérapie IV 0,05 UI/kg/h selon protocole."]),
    (("épilep",), ["Crise tonico-clonique généralisée de {min} min.", "Clonazépam puis phénytoïne à l'arrivée."]),
    (("trauma",), ["Scanner cérébral : {lesion}.", "PIC {pic} mmHg, PPC {ppc} mmHg.", "Collier cervical en place."]),
    (("CEC", "Fallot"), ["Temps de CEC {cec} min, clampage aortique {clamp} min.", "Drains médiastinaux peu productifs.",
                         "Pace-maker épicardique en veille.", "Retour de bloc à H{h}."]),
    (("myocardite", "PIMS"), ["Syndrome grippal la semaine précédente.", "ECG : microvoltage, troubles de la repolarisation.",
                              "PCR entérovirus en cours."]),
    (("CIV", "atrioventriculaire"), ["Souffle holosystolique 3/6.", "Cassure de la courbe pondérale."]),
    (("asthme",), ["Salbutamol IV en continu.", "Sulfate de magnésium IV reçu aux urgences."]),
]
HISTORY_NEUTRAL = [
    "Pas d'antécédent notable.", "ATCD : prématurité à {ga} SA.", "ATCD : asthme du nourrisson.",
    "ATCD : épilepsie sous valproate.", "ATCD : drépanocytose SS.", "Vaccinations à jour.", "ATCD : trisomie 21.",
    "ATCD : reflux gastro-œsophagien.", "Né à terme, eutrophe.", "Pas d'allergie connue.",
    "ATCD : bronchodysplasie pulmonaire.", "ATCD : syndrome néphrotique corticosensible.",
]
HISTORY_CARDIAC = [
    "ATCD de CIV opérée à {m} mois, sans séquelle.", "Suivi en cardiologie pour une CIA, FEVG conservée au dernier contrôle.",
    "ATCD : tétralogie de Fallot opérée, bon résultat.", "ATCD de myocardite il y a {y} ans, guérie.",
    "Souffle fonctionnel connu, ETT normale en {yr}.", "ATCD : CIV musculaire restrictive, simple surveillance.",
    "ATCD familial de cardiomyopathie, bilan cardiologique normal.", "ATCD de Kawasaki sans anévrisme coronaire.",
]

# Label-bearing evidence, by category: a clear sign (P), a hedged or borderline
# finding (A), a normal or negated finding (N). Each category lands in one section.
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
              "Furosémide {furo} mg/kg IV toutes les 8 h.", "Milrinone et furosémide.", "Restriction hydrique, furosémide.",
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
EVIDENCE_SECTION = {"dx": "hemo", "bnp": "bio", "echo": "echo", "exam": "exam", "tx": "tx", "rx": "resp"}

# Label-neutral sentences: the bulk of each note, grouped by section.
NEUTRAL = {
    "hemo": ["FC {fc}/min, TA {tas}/{tad}, SpO2 {spo2} % {o2}.", "FR {fr}/min, T° {temp} °C.", "FC {fc}/min, FR {fr}/min.",
             "TA {tas}/{tad} mmHg, PAM {pam} mmHg.", "T° {temp} °C, FC {fc}/min, TA {tas}/{tad}.",
             "Diurèse {diur} mL/kg/h sur les dernières 24 h.", "Rythme sinusal au scope."],
    "resp": ["Intubation à J{j} pour épuisement respiratoire.", "VNI en mode {vni}, bien tolérée.",
             "Sevrage de l'OHD en cours.", "Extubation prévue demain si gaz corrects.", "Ventilation en VAC, FiO2 {fio2} %.",
             "Gazométrie : pH {ph}, pCO2 {pco2} mmHg.", "Aspirations naso-pharyngées régulières.",
             "Kinésithérapie respiratoire deux fois par jour.", "Encombrement bronchique important.",
             "SpO2 {spo2} % {o2}, FR {fr}/min, signes de lutte {lutte}."],
    "neuro": ["Score de Glasgow {gcs}.", "Sédation par midazolam et sufentanil.", "Pupilles symétriques réactives.",
              "Pas de crise convulsive depuis H{h}.", "EEG : tracé ralenti sans activité critique.",
              "Réveil calme, interactif.", "Comfort-B {cb} sous sédation.", "Levétiracétam {lev} mg/kg/j.",
              "Enfant douloureux, EVA {eva}/10, morphine introduite."],
    "bio": ["Lactates {lac} mmol/L.", "Créatinine {creat} µmol/L.", "CRP {crp} mg/L, PCT {pct} ng/mL.",
            "Hb {hb} g/dL, plaquettes {plq} G/L.", "Na {na} mmol/L, K {k} mmol/L.", "Glycémie {gly} mmol/L.",
            "Urée {uree} mmol/L.", "Leucocytes {leuco} G/L.", "ASAT {asat} UI/L, ALAT {alat} UI/L.",
            "Albumine {alb} g/L.", "Bilan hépatique normal.", "Hémostase correcte, TP {tp} %."],
    "inf": ["Hémoculture positive à {germ}.", "Antibiothérapie par {atb}.", "Prélèvements bactériologiques en cours.",
            "PCR VRS positive.", "Arrêt des antibiotiques à J{j}.", "Apyrexie depuis {h} h.", "Isolement contact."],
    "nutri": ["Alimentation entérale continue {ml} mL/kg/j.", "Reprise alimentaire progressive.",
              "Nutrition parentérale par KTC.", "Sonde naso-gastrique en place.", "Apports hydriques {ml} mL/kg/j.",
              "Transit conservé."],
    "renal": ["Diurèse conservée.", "Bilan entrées-sorties positif à {bil} mL.", "Pas d'insuffisance rénale.",
              "Sondage urinaire.", "Insuffisance rénale fonctionnelle en amélioration."],
    "exam": ["Fontanelle normotendue.", "Abdomen souple, dépressible.", "Pas de raideur méningée.",
             "Examen cutané sans particularité.", "Conscient, réactif.", "Tonus axial correct."],
    "tx": ["Paracétamol systématique.", "Héparine préventive.", "Oméprazole IV.", "Correction de la kaliémie.",
           "Vitamine K faite."],
    "misc": ["KTC jugulaire droit posé à J{j}.", "Cathéter artériel radial.", "Parents présents et informés.",
             "Parents vus ce jour, inquiets.", "Pas d'escarre.", "Prévention des escarres.", "Chambre {room}.",
             "Transfert en pédiatrie envisagé.", "Avis {spec} demandé.", "Staff médical ce matin.",
             "Entretien avec la maman de {name}.", "Bonne nuit, pas d'événement.", "Scope et saturation continus."],
    "evol": [  # day-by-day entries: the only templates that may repeat within a note
        "Evolution à J{j} : {evo}.", "J{j} : {evo}, FC {fc}/min.", "Nuit du J{j} : {evo}.",
        "H{h} : {evo}, SpO2 {spo2} %.", "J{j} : {evo}, T° {temp} °C.", "Relève de J{j} : {evo}."],
}
EVENTS = [
    "stable", "pic fébrile à {temp} °C", "désaturation lors des soins", "agitation, bolus de midazolam",
    "bonne tolérance de l'alimentation", "vomissements", "extubation réussie", "diurèse {diur} mL/kg/h",
    "lactates {lac} mmol/L", "reprise de la VNI", "baisse de la FiO2 à {fio2} %", "pas d'événement",
    "glycémie {gly} mmol/L", "hypokaliémie corrigée", "pose d'un KTC", "changement d'antibiotique pour {atb}",
    "selles liquides", "douleur contrôlée", "réveil progressif", "apnée résolutive à la stimulation",
]
SECTION_TITLES = {
    "hemo": ["Hémodynamique :", "HD :", "Cardio :"], "resp": ["Respiratoire :", "Resp :", "Sur le plan respiratoire,"],
    "neuro": ["Neuro :", "Neurologique :", "Sur le plan neurologique,"], "bio": ["Biologie :", "Bio :", "Bilan :"],
    "inf": ["Infectieux :", "Infectio :"], "nutri": ["Nutrition :", "Digestif :"], "renal": ["Rénal :", "Néphro :"],
    "exam": ["Examen :", "Clinique :", "A l'examen,"], "tx": ["Traitement :", "TTT :", "Thérapeutique :"],
    "echo": ["", "Imagerie :"], "misc": ["Divers :", "Autres :", ""], "evol": ["Evolution :", "Depuis hier :", ""],
}
OPENINGS = [
    "{who}, admis{e} en réanimation pédiatrique pour {reason}.", "{who} hospitalisé{e} en réa ped pour {reason}.",
    "{who}. Motif d'admission : {reason}.", "{who}, transféré{e} du SAU pour {reason}.",
    "J{j} d'hospitalisation. {who} admis{e} pour {reason}.", "{who} pris{e} en charge pour {reason}.",
    "Note de garde. {who}, {reason}.", "{who} hospitalisé{e} depuis J{j} pour {reason}.",
]
PLANS = ["Plan : poursuite de la surveillance.", "Conduite à tenir : surveillance scopée.",
         "Plan : réévaluation demain.", "A revoir à la visite du soir.", "Poursuite du traitement en cours.",
         "Contrôle biologique demain matin.", "Plan : ETT de contrôle à J{j}.", "Plan : bilan entrées-sorties strict.",
         "Transfert en service conventionnel si stable.", "Information des parents faite."]
CONCLUSIONS = ["Au total :", "Synthèse :", "Conclusion :", "En résumé,"]
O2 = ["en AA", "sous {l} L O2", "sous OHD {l} L/min", "sous VNI", "intubé-ventilé", "sous lunettes {l} L/min"]
RX_OTHER = ["atélectasie lobaire supérieure droite", "distension thoracique", "foyer alvéolaire gauche",
            "syndrome interstitiel bilatéral", "pas de foyer", "pneumothorax droit drainé"]
GERMS = ["S. aureus", "E. coli", "pneumocoque", "méningocoque", "streptocoque A", "K. pneumoniae"]
ATB = ["céfotaxime", "céfotaxime et vancomycine", "amoxicilline", "pipéracilline-tazobactam", "ceftriaxone"]
SPEC = ["cardiologique", "neurologique", "chirurgical", "néphrologique", "infectiologique", "diététique"]
NAMES = ["Léa", "Noah", "Inès", "Lucas", "Jade", "Adam", "Chloé", "Hugo", "Maël", "Louise"]  # invented
