"""From probabilities to numbers: metrics, multi-label metrics, statistics, calibration, operating point (numpy only)."""
