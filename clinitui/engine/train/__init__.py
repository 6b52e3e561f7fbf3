"""Reusable parts of classifier training: the loop, losses, feature cache, epochs for small splits."""
