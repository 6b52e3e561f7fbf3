"""Backbones and adapters, each registered by name (one file per entry)."""
