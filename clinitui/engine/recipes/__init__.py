"""One recipe per run kind over the run scaffold: train, pretrain, TF-IDF, seed groups."""
