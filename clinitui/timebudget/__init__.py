"""Time-budget search (``clinitui train --time-budget 30m``): the best model this machine finds in that time.

A search directory is shaped like a sweep's (layout.py): its candidates are ordinary run
directories in ``trials/`` -- the TF-IDF model, the network, a backbone pretrained on the notes and
the network fine-tuned from it, variants -- tried cheapest first (candidates.py), priced by what
earlier runs measured (estimate.py), chosen on validation by a rule that prefers the cheaper model
unless the gain is beyond noise (select.py), and reported as one table (table.py). search.py runs
it. Nothing here imports torch at import time. docs/time-budget.md is the user's guide.
"""
