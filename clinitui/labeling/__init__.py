"""Active learning: which notes a clinician labels next, the label journal, and what it adds up to.

A services-layer package (torch-free except where a checkpoint scores the pool, inside a function):

* pool.py — the unlabelled pool: its ids, texts, and the digest of its ids the journal is tied to;
* journal.py — ``labels.jsonl``: append-only, fsynced per label, locked against a second session;
* strategies.py — the query strategies (breaking-ties, entropy, least-confidence, coreset, random,
  k-means cold start), numpy / scikit-learn only;
* suggest.py — a checkpoint (or nothing, the cold start) + a pool + a strategy → the next notes;
* export.py, status.py — the journal merged into a training file; counts and Cohen's kappa;
* simulate.py — learning curves with the gold labels standing in for the clinician (docs/labeling.md).
"""

ID_COL = "id"  # the pool's id column unless --id-col says otherwise
RETRAIN_EVERY = 50  # labels between two refits of the fast model in the labelling screen
HOLD_OUT_EVERY = 5  # every 5th note the screen serves is drawn at random and held out (dev/test of the export)
