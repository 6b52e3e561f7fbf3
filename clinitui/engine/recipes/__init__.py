"""One recipe per run kind over the run scaffold (scaffold.py): train, pretrain, TF-IDF, seed groups.

dispatch.recipe_for picks the recipe of a config; finish.py ends every classifier run, single- or multi-label.
"""
