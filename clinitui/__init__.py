"""clinitui: train and compare clinical-note classifiers on little data and a small GPU.

Importing this package is cheap: nothing here imports torch or transformers.
"""

__version__ = "0.1.0"
