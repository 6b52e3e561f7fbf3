"""Widgets of the operator's console, one per module."""
