"""Datasets: readers, splits, the built-in demo corpus and tokenizers."""
