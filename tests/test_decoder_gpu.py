"""GPU tier: decoder LLMs with QLoRA (4-bit), 8-bit and 16-bit LoRA on a real NVIDIA card.

    CLINITUI_GPU_REPORT=gpu-report.jsonl pytest -m gpu tests/test_decoder_gpu.py -s -p no:cacheprovider -n 0

(or tests/gpu_check_qlora.sh, which also says which wheels an offline GPU box needs). A small
random Llama (8 layers, hidden 512, GQA 8/4 heads, FFN 1408, vocabulary 32,000: ≈ 40 M
parameters, built in the test) trains one short run per weight format under the ``gpu-8gb``
budget, on notes that fill the 256-token window. Checked: the base weights really are 4-bit /
8-bit (bitsandbytes parameter classes), only LoRA and head weights train and are saved,
``clinitui eval`` on the checkpoint reproduces the run's test confusion matrix, and
``torch.cuda.max_memory_allocated`` of the run (training, validation and the test pass) lies
within [0.6, 1.10] × the planner's tensor figure (the plan's estimate less overhead and margin):
the planner may over-estimate by up to 1/0.6, it must not under-estimate by more than its CUDA
margin (10 %).
Measured figures go to ``$CLINITUI_GPU_REPORT`` (JSON lines) for docs/memory.md.
"""

from __future__ import annotations

import datetime
import json
import os
import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

LOW, HIGH = 0.6, 1.10  # measured / planned tensors: see the module docstring


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    from transformers import LlamaConfig, LlamaModel

    from tests.decoder_fixtures import tiny_tokenizer

    folder = tmp_path_factory.mktemp("llama-40m")
    tiny_tokenizer(folder, max_length=512)
    config = LlamaConfig(vocab_size=32000, hidden_size=512, intermediate_size=1408, num_hidden_layers=8,
                         num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=512,
                         bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    LlamaModel(config).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    from tests.decoder_fixtures import WORDS

    rng = random.Random(0)
    rows = ["text,label,split"]
    for i in range(96):  # 300 words each: every note fills the 256-token window (the worst case)
        label = i % 2
        words = [rng.choice(WORDS) for _ in range(300)]
        words[rng.randrange(200)] = "cardiaque" if label else "respiratoire"
        rows.append(f"{' '.join(words)},{label},{['train', 'train', 'dev', 'test'][i % 4]}")
    path = tmp_path_factory.mktemp("data") / "notes.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def report(record: dict) -> None:
    out = os.environ.get("CLINITUI_GPU_REPORT")
    if out:
        record["date"] = datetime.date.today().isoformat()
        record["device"] = torch.cuda.get_device_name()
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


@pytest.mark.parametrize("quantization", ["4bit", "8bit", "none"])
def test_decoder_lora_trains_within_the_planners_figure(base, csv, tmp_path, quantization):
    if quantization != "none":
        pytest.importorskip("bitsandbytes")
    from safetensors import safe_open
    from typer.testing import CliRunner

    from clinitui.cli.app import app
    from clinitui.engine.checkpoint.folder import load_checkpoint
    from clinitui.events import read_events

    runner = CliRunner()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    result = runner.invoke(app, [
        "train", "--data", str(csv), "--split-col", "split", "--backbone", str(base), "--adapter", "linear",
        "--budget", "gpu-8gb", "--run-dir", str(tmp_path / "run"), "--json", "--quiet",
        "--set", "model.pooling=last", "--set", f"model.backbone_options.quantization={quantization}",
        "--set", "model.ensemble=none", "--set", "train.epochs=1", "--set", "train.batch_size=32",
        "--set", "train.max_length=256", "--set", "train.lr=2e-4"])
    assert result.exit_code == 0, result.output
    measured = torch.cuda.max_memory_allocated()
    payload = json.loads(result.stdout)
    plan = next(e for e in read_events(tmp_path / "run") if e["type"] == "run_started")["plan"]
    est = plan["estimate"]
    tensors = sum(est[k] for k in ("weights", "gradients", "optimizer", "weight_copies", "activations", "transient"))
    ckpt = Path(payload["checkpoint"])
    with safe_open(str(ckpt / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    model, _, _ = load_checkpoint(ckpt, "cuda")
    weight = model.backbone.model.layers[0].self_attn.q_proj.base_layer.weight
    record = {"test": "decoder_lora", "quantization": quantization, "micro_batch": plan["micro_batch"],
              "max_length": plan["max_length"], "precision": plan["precision"],
              "gradient_checkpointing": plan["gradient_checkpointing"], "planned_tensor_bytes": tensors,
              "measured_max_allocated_bytes": measured, "ratio": measured / tensors,
              "weight_class": type(weight).__name__, "checkpoint_bytes": (ckpt / "model.safetensors").stat().st_size}
    report(record)
    print(record)
    assert all("lora_" in k or not k.startswith("backbone.") for k in keys)
    expected = {"4bit": "Params4bit", "8bit": "Int8Params", "none": "Parameter"}[quantization]
    assert type(weight).__name__ == expected
    evaluated = runner.invoke(app, ["eval", str(ckpt), "--data", str(csv), "--split-col", "split", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["confusion_matrix"] == payload["metrics"]["confusion_matrix"]
    assert LOW * tensors <= measured <= HIGH * tensors, record
