"""Adapter registry entries: one file each, discovered automatically."""
