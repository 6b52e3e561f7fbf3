"""Where and how the engine computes: device and precision, torchrun, telemetry (lowest engine layer)."""
