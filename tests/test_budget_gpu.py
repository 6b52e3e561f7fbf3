"""GPU tier: budgets enforced on a real NVIDIA card. Run on a CUDA machine with

    CLINITUI_GPU_REPORT=gpu-report.jsonl pytest -m gpu tests/test_budget_gpu.py -s

A CamemBERT-base-sized encoder (12 layers, hidden 768, 12 heads, FFN 3072, vocabulary 32,005;
random weights, the real architecture) trains a few steps with each adapter under the study's
``p620-2gb`` budget; NVML's per-process figure must stay within 2 GiB on any larger card
(the allocator is capped). An out-of-memory error provoked on purpose must be recovered by
halving the micro-batch. Measured figures go to ``$CLINITUI_GPU_REPORT`` (JSON lines) for
docs/memory.md.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

GiB = 1 << 30
ADAPTERS = ["linear", "grn", "adapter", "lightweight", "tinyattention", "lora"]


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory) -> Path:
    """A random-weight CamemBERT-base (the shape of camembert-bio) with a small trained tokenizer."""
    import json as _json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CamembertConfig, CamembertModel, CamembertTokenizer

    from clinitui.data.demo import generate_notes

    folder = tmp_path_factory.mktemp("camembert-base-random")
    texts, _ = generate_notes(600, seed=1)
    specials = ["<s>NOTUSED", "<pad>", "</s>NOTUSED", "<unk>", "<unk>NOTUSED", "<mask>", "<s>", "</s>"]
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    # a small vocabulary splits notes finely, so most reach the 256-token limit (the worst case)
    tok.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=400, special_tokens=specials, unk_token="<unk>",
                                                           show_progress=False))
    vocab = [tuple(x) for x in _json.loads(tok.to_str())["model"]["vocab"]]
    hf_tok = CamembertTokenizer(vocab=vocab, model_max_length=512)
    hf_tok.save_pretrained(str(folder))
    config = CamembertConfig(vocab_size=32005, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                             intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                             pad_token_id=hf_tok.pad_token_id, bos_token_id=hf_tok.bos_token_id,
                             eos_token_id=hf_tok.eos_token_id)
    torch.manual_seed(0)
    CamembertModel(config).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    from clinitui.data.demo import write_demo_csv

    path = tmp_path_factory.mktemp("notes") / "notes.csv"
    write_demo_csv(path, n=400, seed=0)
    return path


def train(folder: Path, notes: Path, runs: Path, adapter: str, budget: str, *extra: str) -> subprocess.CompletedProcess:
    """One run in its own process, so NVML's per-process figure is this run's alone."""
    cmd = [sys.executable, "-m", "clinitui", "train", "--data", str(notes), "--backbone", str(folder),
           "--adapter", adapter, "--budget", budget, "--epochs", "1", "--runs-root", str(runs), "--json", "--quiet",
           "--set", "train.max_steps=20", "--set", "train.max_length=256", "--set", "train.feature_cache=false",
           "--set", "train.baseline=false", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def report(row: dict) -> None:
    row = {"date": datetime.date.today().isoformat(), "gpu": torch.cuda.get_device_name(0), **row}
    print(json.dumps(row))
    if os.environ.get("CLINITUI_GPU_REPORT"):
        with open(os.environ["CLINITUI_GPU_REPORT"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_base_model_fits_the_p620_budget(adapter, base_folder, notes, tmp_path):
    done = train(base_folder, notes, tmp_path, adapter, "p620-2gb")
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = Path(json.loads(done.stdout)["run_dir"])
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    plan = next(e for e in events if e["type"] == "run_started")["plan"]
    memory = [e for e in events if e["type"] == "memory"]
    assert memory, "no memory events"
    nvml = [e["nvml_process_bytes"] for e in memory if e.get("nvml_process_bytes")]
    torch_peak = max(e.get("torch_peak_bytes", 0) for e in memory)
    report({"adapter": adapter, "freeze": plan["freeze"], "micro_batch": plan["micro_batch"],
            "gradient_checkpointing": plan["gradient_checkpointing"], "precision": plan["precision"],
            "estimated_peak_bytes": plan["estimated_peak_bytes"],
            "estimated_eval_peak_bytes": plan["estimated_eval_peak_bytes"],
            "estimated_tensor_bytes": plan["estimated_peak_bytes"] - plan["estimate"]["overhead"],
            "torch_peak_allocated_bytes": torch_peak, "nvml_process_peak_bytes": max(nvml) if nvml else None,
            "context_bytes": plan.get("context_bytes"), "allocator_cap_bytes": plan.get("allocator_cap_bytes"),
            "oom_backoffs": sum(e["type"] == "oom_backoff" for e in events)})
    if plan.get("allocator_cap_bytes"):
        assert torch_peak <= plan["allocator_cap_bytes"]
    if nvml:  # absent where NVML cannot see this container's pids: the cap above still holds
        assert max(nvml) <= 2 * GiB
    assert torch_peak <= 2 * GiB


def test_full_fine_tuning_is_refused_on_the_p620_and_fits_8gb(base_folder, notes, tmp_path):
    refused = train(base_folder, notes, tmp_path, "linear", "p620-2gb", "--set", "model.freeze=none")
    assert refused.returncode == 2 and "needs ≈" in refused.stderr
    done = train(base_folder, notes, tmp_path, "linear", "gpu-8gb", "--set", "model.freeze=none",
                 "--set", "train.lr=2e-5")
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = Path(json.loads(done.stdout)["run_dir"])
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    plan = next(e for e in events if e["type"] == "run_started")["plan"]
    memory = [e for e in events if e["type"] == "memory"]
    nvml = [e["nvml_process_bytes"] for e in memory if e.get("nvml_process_bytes")]
    torch_peak = max(e.get("torch_peak_bytes", 0) for e in memory)
    report({"adapter": "linear", "freeze": "none", "budget": "gpu-8gb", "micro_batch": plan["micro_batch"],
            "gradient_checkpointing": plan["gradient_checkpointing"], "precision": plan["precision"],
            "estimated_peak_bytes": plan["estimated_peak_bytes"],
            "estimated_tensor_bytes": plan["estimated_peak_bytes"] - plan["estimate"]["overhead"],
            "torch_peak_allocated_bytes": torch_peak, "nvml_process_peak_bytes": max(nvml) if nvml else None})
    assert torch_peak <= 8 * GiB and (not nvml or max(nvml) <= 8 * GiB)


def _fit_under_cap(folder: Path, cap_bytes: int, micro_batch: int):
    from clinitui.config.schema import ModelConfig, TrainConfig
    from clinitui.engine.train.loop import EncodedSplit, fit
    from clinitui.models.classifier import build_classifier, make_tokenizer

    device = torch.device("cuda")
    cfg = ModelConfig(backbone=str(folder), adapter="grn", freeze="none")
    tokenizer = make_tokenizer(cfg, [])
    torch.manual_seed(0)
    model, _ = build_classifier(cfg, 2, tokenizer)
    model.to(device)
    ids = [[5 + (7 * i + j) % 390 for j in range(256)] for i in range(64)]
    train_split = EncodedSplit(ids, [i % 2 for i in range(64)])
    events: list[dict] = []
    total = torch.cuda.get_device_properties(device).total_memory
    torch.cuda.set_per_process_memory_fraction(cap_bytes / total, device)
    try:
        fit(model, train_split, EncodedSplit(ids[:16], train_split.labels[:16]),
            cfg=TrainConfig(epochs=1, batch_size=32, lr=2e-5, max_steps=2, eval_batch_size=16, early_stopping=False,
                            feature_cache=False),
            micro_batch=micro_batch, pad_id=tokenizer.pad_id, label_names=["0", "1"], positive_index=1,
            device=device, precision="fp16", emit=lambda type, **f: events.append({"type": type, **f}),
            save_best=lambda epoch, metrics: None)
    finally:
        del model
        torch.cuda.set_per_process_memory_fraction(1.0, device)
        torch.cuda.empty_cache()
    return events


def test_provoked_oom_backs_off_and_finishes(base_folder):
    # 3 GiB holds weights, gradients and AdamW (≈ 1.8 GB) but not 32 × 256 tokens of activations (≈ 2.9 GB)
    events = _fit_under_cap(base_folder, 3 * GiB, micro_batch=32)
    backoffs = [e for e in events if e["type"] == "oom_backoff" and e["phase"] == "train"]
    assert backoffs and backoffs[0]["old_micro_batch"] == 32 and backoffs[-1]["new_micro_batch"] < 32
    assert [e["step"] for e in events if e["type"] == "step"][-1] == 2
    report({"test": "provoked_oom", "backoffs": [(e["old_micro_batch"], e["new_micro_batch"]) for e in backoffs]})


def test_oom_at_micro_batch_1_exits_3(base_folder):
    from clinitui.errors import OutOfMemoryError

    # room for the fp32 weights (≈ 0.44 GB) and little else: no micro-batch can train
    with pytest.raises(OutOfMemoryError) as err:
        _fit_under_cap(base_folder, int(0.6 * GiB), micro_batch=4)
    assert err.value.exit_code == 3
