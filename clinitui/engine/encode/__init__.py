"""Notes to token-id batches: dynamic padding, long notes (truncate, head-tail, chunk)."""
