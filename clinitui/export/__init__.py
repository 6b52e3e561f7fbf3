"""Models that leave the lab: ``clinitui export`` writes an ONNX bundle, ``clinitui predict`` runs it.

``bundle`` and ``onnx_predict`` are torch-free (a hospital's pipeline needs only onnxruntime,
tokenizers and numpy); ``onnx_export`` needs torch and runs where the model was trained.
"""
