"""Screens of the operator's console, one per module (imported lazily by the app)."""
