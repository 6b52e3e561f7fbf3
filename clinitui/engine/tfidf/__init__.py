"""The strong TF-IDF model: features, single-label and one-vs-rest models, the baseline, the blend."""
