"""Budgets: architecture shapes, the memory planner, applying a plan, out-of-memory back-off."""
