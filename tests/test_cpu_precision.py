"""bf16 on CPU: asked for, it trains under autocast and evaluates in fp32; auto keeps fp32 (runtime/cpu.py)."""

from __future__ import annotations

import numpy as np
import torch

from clinitui.config.schema import RunConfig
from clinitui.engine.runtime.cpu import cpu_precision
from clinitui.engine.runtime.device import select_device
from clinitui.engine.runtime.precision import autocast, eval_precision
from clinitui.engine.train.loop import predict_probs
from tests.test_feature_cache import CPU, tiny_setup


def test_cpu_precision_is_fp32_unless_bf16_is_asked():
    assert [cpu_precision(s) for s in ("auto", "fp32", "fp16", "bf16")] == ["fp32", "fp32", "fp32", "bf16"]
    config = RunConfig.model_validate({"budget": {"device": "cpu", "precision": "bf16"}})
    assert select_device(config) == (CPU, "bf16")
    assert select_device(RunConfig.model_validate({"budget": {"device": "cpu"}}))[1] == "fp32"


def test_bf16_autocasts_training_on_cpu_and_evaluation_stays_fp32():
    x = torch.randn(4, 8)
    with autocast(CPU, "bf16"):
        assert (x @ x.T).dtype == torch.bfloat16
    assert eval_precision(CPU, "bf16") == "fp32" and eval_precision(torch.device("cuda"), "bf16") == "bf16"
    model, pad, _, val = tiny_setup("linear")
    fp32 = predict_probs(model, val, pad, 16, CPU, "fp32")
    assert np.array_equal(predict_probs(model, val, pad, 16, CPU, "bf16"), fp32)
