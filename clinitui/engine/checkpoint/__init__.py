"""The checkpoint folder format: config.json keys, weights, atomic swap."""
