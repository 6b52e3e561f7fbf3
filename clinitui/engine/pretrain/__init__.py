"""Masked-language-model pretraining parts: windows and masking, MLM models, the loop."""
