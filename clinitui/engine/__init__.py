"""The engine: training loop, evaluation, checkpoints, memory telemetry (imports torch lazily).

It never prints and never imports a front end: it emits events and raises ClinituiErrors.
"""
