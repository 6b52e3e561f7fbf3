"""Validated run configuration: schemas, presets and ``--set`` overrides."""
