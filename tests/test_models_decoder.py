"""Decoder LLMs as classifiers (models/backbones/decoder.py) on tiny random Llama/Qwen2/Mistral/Gemma folders.

What these prove on CPU, in fp32: each family loads offline from a folder, pads with eos on the
right, pools its last real token, trains LoRA on attention + MLP projections only, and round-trips
through a checkpoint that holds only the LoRA, adapter and head weights and names its base by
path + sha256; eval / predict / resume run end to end; a missing or changed base, QLoRA without
CUDA and `cls` pooling are one line and exit 2; the planner's decoder figures behave (4-bit <
8-bit < 16-bit weights, checkpointing cuts activations) and docs/models.md carries its table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.config.schema import ModelConfig
from clinitui.engine.checkpoint.folder import load_checkpoint
from clinitui.models.backbones.decoder import DecoderBackbone, DecoderTextEncoder
from clinitui.models.classifier import Classifier, build_classifier, make_tokenizer, resolve_backbone
from clinitui.models.decoder_family import BASE_FILE
from tests.decoder_fixtures import FAMILIES, tiny_decoder, tiny_tokenizer, write_csv

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
BLENDED = ["--adapter", "linear", "--set", "model.pooling=last", "--set", "train.max_length=16",
           "--set", "train.threads=1", "--set", "train.epochs=1", "--set", "train.batch_size=8",
           "--set", "model.backbone_options.lora_r=4"]
TINY = [*BLENDED, "--set", "model.ensemble=none"]


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> Path:
    return tiny_decoder(tmp_path_factory.mktemp("llama") / "base", "llama")


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "d.csv")


@pytest.fixture(scope="module")
def trained(llama, csv, tmp_path_factory) -> dict:
    runs = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, ["train", "--data", str(csv), "--split-col", "split", "--backbone", str(llama),
                                 "--json", "--quiet", "--runs-root", str(runs), *TINY])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cfg_for(folder: Path, **model) -> ModelConfig:
    return ModelConfig(backbone=str(folder), **{"adapter": "linear", "pooling": "last", **model})


# -- loading, padding, pooling ---------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_loads_from_its_folder_and_only_lora_and_head_train(family, tmp_path):
    folder = tiny_decoder(tmp_path / family, family)
    cls, source = resolve_backbone(str(folder))
    assert cls is DecoderBackbone and source == str(folder)  # --backbone DIR finds the decoder entry
    cfg = cfg_for(folder, adapter="grn")
    tokenizer = make_tokenizer(cfg, [])
    model, freeze = build_classifier(cfg, 2, tokenizer)
    assert freeze == "lora"
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n in trainable if "lora_A" in n}
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert all("lora_" in n or not n.startswith("backbone.") for n in trainable)
    assert any(n.startswith("adapter.") for n in trainable) and "head.weight" in trainable
    ids = torch.tensor(tokenizer.encode(["patient toux", "souffle cardiaque enfant"], 8)[:1] * 2)
    model.train()
    model(ids, torch.ones_like(ids)).sum().backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if "lora_B" in n)


def test_tokenizer_pads_with_eos_on_the_right_or_with_unk_without_eos(llama, tmp_path):
    encoder = DecoderBackbone.load_tokenizer(llama)
    assert isinstance(encoder, DecoderTextEncoder)
    assert encoder.tokenizer.pad_token == "</s>" and encoder.pad_id == 2
    assert encoder.tokenizer.padding_side == "right"
    tiny_tokenizer(tmp_path, eos=False)
    assert DecoderBackbone.load_tokenizer(tmp_path).tokenizer.pad_token == "<unk>"


def test_last_token_pooling_picks_the_last_real_position_under_right_and_left_padding():
    states = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
    pool = Classifier.pool.__get__(type("M", (), {"pooling": "last"})())
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 1, 1]])
    assert torch.equal(pool(states, right), torch.stack([states[0, 2], states[1, 4]]))
    assert torch.equal(pool(states, left), torch.stack([states[0, 4], states[1, 4]]))


def test_right_padding_leaves_a_notes_pooled_vector_unchanged(llama):
    cfg = cfg_for(llama)
    tokenizer = make_tokenizer(cfg, [])
    model, _ = build_classifier(cfg, 2, tokenizer)
    model.eval()
    short, long = tokenizer.encode(["toux enfant", "souffle cardiaque patient enfant nuit"], 16)
    alone = model.features(torch.tensor([short]), torch.ones(1, len(short), dtype=torch.long))
    padded = torch.tensor([short + [tokenizer.pad_id] * (len(long) - len(short)), long])
    mask = (torch.arange(len(long)) < torch.tensor([[len(short)], [len(long)]])).long()
    assert torch.allclose(model.features(padded, mask)[0], alone[0], atol=1e-5)


def test_cls_pooling_on_a_decoder_is_refused(llama):
    cfg = cfg_for(llama, pooling="cls")
    with pytest.raises(Exception, match="pooling=last"):
        build_classifier(cfg, 2, make_tokenizer(cfg, []))


def test_adapter_lora_on_a_decoder_uses_its_own_options_on_the_family_targets(llama):
    cfg = cfg_for(llama, adapter="lora", adapter_options={"r": 2, "target_modules": ["q_proj", "down_proj"]})
    model, freeze = build_classifier(cfg, 2, make_tokenizer(cfg, []))
    names = [n for n, p in model.named_parameters() if "lora_A" in n]
    assert freeze == "lora" and {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n in names} == {"q_proj", "down_proj"}
    assert all(model.get_parameter(n).shape[0] == 2 for n in names)


# -- end to end: train, checkpoint, eval, predict, resume ----------------------------------------------
def test_train_eval_predict_end_to_end_with_a_lora_only_checkpoint(trained, llama, csv, tmp_path):
    ckpt = Path(trained["checkpoint"])
    base = json.loads((ckpt / BASE_FILE).read_text())
    assert base["path"] == str(llama.resolve()) and len(base["config_sha256"]) == 64
    with safe_open(str(ckpt / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and all("lora_" in k or not k.startswith("backbone.") for k in keys)
    assert any("lora_A" in k for k in keys) and "head.weight" in keys
    assert (ckpt / "model.safetensors").stat().st_size < (llama / "model.safetensors").stat().st_size / 3
    result = runner.invoke(app, ["eval", str(ckpt), "--data", str(csv), "--split-col", "split", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["confusion_matrix"] == trained["metrics"]["confusion_matrix"]
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", trained["run_dir"], "--data", str(csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 33
    model, _, _ = load_checkpoint(ckpt)  # the base weights come from the base folder, LoRA from the checkpoint
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)


def test_resume_state_holds_lora_and_head_only_and_restores_them(trained, llama):
    state = torch.load(Path(trained["run_dir"]) / "state" / "trainer.pt", weights_only=True)
    assert state["model"] and all("lora_" in k or not k.startswith("backbone.") for k in state["model"])
    cfg = cfg_for(llama, backbone_options={"lora_r": 4}, ensemble=None)
    model, _ = build_classifier(cfg, 2, make_tokenizer(cfg, []))
    model.load_checkpoint_state(state["model"])
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state["model"].items())
    with pytest.raises(RuntimeError, match="missing"):
        model.load_checkpoint_state({k: v for k, v in state["model"].items() if "lora_B" not in k})


@pytest.mark.slow
def test_stopped_decoder_run_resumes_to_the_end(llama, csv, tmp_path):
    from tests.test_faults import wait_exit, wait_for_step

    run = tmp_path / "run"
    args = ["train", "--data", str(csv), "--split-col", "split", "--backbone", str(llama), "--run-dir", str(run),
            *TINY, "--set", "train.epochs=6", "--set", "train.batch_size=2", "--set", "train.state_every_s=0",
            "--set", "train.early_stopping=false"]
    started = runner.invoke(app, [*args, "--detach", "--json"])
    assert started.exit_code == 0, started.output
    wait_for_step(run, 10)
    assert runner.invoke(app, ["runs", "stop", str(run)]).exit_code == 0
    assert wait_exit(json.loads(started.stdout)["pid"]) == 130
    result = runner.invoke(app, ["train", "--resume", str(run), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["n"] > 0


# -- one line, exit 2 --------------------------------------------------------------------------------
def test_missing_or_changed_base_is_one_line_exit_2(trained, llama, csv):
    ckpt = trained["checkpoint"]
    moved = llama.with_name("moved")
    llama.rename(moved)
    try:
        result = runner.invoke(app, ["eval", ckpt, "--data", str(csv), "--split-col", "split"])
    finally:
        moved.rename(llama)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"base model folder {llama.resolve()}" in result.stderr and "is missing" in result.stderr
    said = [line for line in result.stderr.strip().splitlines() if not line.startswith("using ")]
    assert len(said) == 1  # one line, after the one naming the run the resolver took
    config = llama / "config.json"
    original = config.read_text()
    config.write_text(original.replace('"rms_norm_eps"', '"unused": 1, "rms_norm_eps"'))
    try:
        result = runner.invoke(app, ["eval", ckpt, "--data", str(csv), "--split-col", "split"])
    finally:
        config.write_text(original)
    assert result.exit_code == 2 and "not the one this checkpoint was trained on" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
@pytest.mark.parametrize("budget, says", [("cpu", "plans for the CPU"), ("p620-2gb", "this machine has none")])
def test_qlora_without_cuda_is_refused_before_anything_loads(llama, csv, tmp_path, budget, says):
    result = runner.invoke(app, ["train", "--data", str(csv), "--split-col", "split", "--backbone", str(llama),
                                 "--budget", budget, "--runs-root", str(tmp_path / "runs"), *TINY,
                                 "--set", "model.backbone_options.quantization=4bit"])
    assert result.exit_code == 2 and says in result.stderr and "quantization=none" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_onnx_export_of_a_decoder_is_refused_in_one_line(trained, tmp_path):
    result = runner.invoke(app, ["export", trained["checkpoint"], "--out", str(tmp_path / "onnx")])
    assert result.exit_code == 2 and "decoder" in result.stderr and not (tmp_path / "onnx").exists()


# -- the planner ---------------------------------------------------------------------------------------
def plan(backbone: str, budget: str, *sets: str):
    from clinitui.config.presets import compose
    from clinitui.engine.memory.planner import DeviceInfo, plan_for_config

    config = compose(backbone=backbone, adapter="linear", budget=budget, sets=['model.pooling="last"', *sets])
    return plan_for_config(config, device=DeviceInfo("cuda", None, "card", None, present=False))


def test_planner_weights_by_quantisation_and_lora_counts():
    q4, q8, half = (plan("qwen2.5-0.5b", "gpu-24gb", f'model.backbone_options.quantization="{q}"')
                    for q in ("4bit", "8bit", "none"))
    assert q4.estimate.weights < q8.estimate.weights < half.estimate.weights
    assert 440 << 20 < q4.estimate.weights < 500 << 20  # embeddings 16-bit + NF4 projections: well under 1 GB
    m = half.model
    base = half.estimate.weights - 4 * (m.lora_params + m.adapter_params + m.head_params)  # those train in fp32
    assert base == pytest.approx(2 * 494_032_768, rel=0.002)  # Qwen2.5-0.5B's published count, 16-bit
    # LoRA r=16 on q, k, v, o, gate, up, down of 24 layers, hidden 896, kv 128, FFN 4864 (+ the linear head)
    lora = 24 * 16 * ((896 + 896) + 2 * (896 + 128) + (896 + 896) + 3 * (896 + 4864))
    assert q4.model.lora_params == lora
    assert "4-bit NF4" in q4.notes[0] and "no KV cache" in q4.notes[0]


def test_planner_checkpointing_cuts_activations_and_refuses_with_numbers():
    from clinitui.engine.memory.planner import estimate
    from clinitui.errors import ConfigError

    shape = plan("qwen2.5-0.5b", "gpu-24gb").model
    kw = dict(freeze="lora", micro=8, seq=256, precision="bf16", device="cuda")
    assert estimate(shape, checkpointing=True, **kw).activations * 5 < estimate(shape, checkpointing=False, **kw).activations
    with pytest.raises(ConfigError, match=r"needs ≈ [\d.]+ GiB .* budget p620-2gb allows 2.00 GiB"):
        plan("mistral-7b", "p620-2gb", 'model.backbone_options.quantization="4bit"')
    from clinitui.config.presets import compose
    from clinitui.engine.memory.planner import plan_for_config

    cpu = compose(backbone="qwen2.5-0.5b", adapter="linear", budget="cpu",
                  sets=['model.backbone_options.quantization="4bit"'])
    with pytest.raises(ConfigError, match="needs a CUDA GPU and budget cpu plans for the CPU"):
        plan_for_config(cpu)


def test_dry_run_says_what_fits_on_the_small_cards():
    fits = runner.invoke(app, ["train", "--dry-run", "--preset", "qwen-0.5b-qlora-p620"])
    assert fits.exit_code == 0 and "fits: yes" in fits.stdout and "4-bit NF4" in fits.stdout
    refused = runner.invoke(app, ["train", "--dry-run", "--backbone", "qwen2.5-1.5b", "--budget", "p620-2gb",
                                  "--set", "model.backbone_options.quantization=4bit"])
    assert refused.exit_code == 2 and "allows 2.00 GiB" in refused.stderr


def test_decoder_presets_state_the_planned_peak_the_planner_gives():
    from clinitui.config.presets import catalogue, find, resolve
    from clinitui.engine.memory.planner import DeviceInfo, gib, plan_for_config

    names = [n for (k, n) in catalogue() if k == "experiment" and "qlora" in n]
    assert len(names) >= 2
    for name in names:
        preset = find(name, "experiment")
        p = plan_for_config(resolve(preset), device=DeviceInfo("cuda", None, "card", None, present=False))
        assert f"planned peak ≈ {gib(p.estimate.total)} of {gib(p.available_bytes)}" in preset.description, name


def test_docs_models_table_is_the_planners():
    from clinitui.engine.memory.decoder_table import markdown

    doc = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    assert markdown() in doc, "regenerate with: python -m clinitui.engine.memory.decoder_table"
    assert re.search(r"qwen2\.5-0\.5b.*4-bit \(QLoRA\) \| [\d.]+ GiB", doc)


def test_decoder_backbone_presets_state_the_planners_qlora_figures():
    from clinitui.config.presets import find
    from clinitui.engine.memory.decoder_table import MODELS, cell

    for name in MODELS:
        cells = ", ".join(f"{b} {cell(name, '4bit', b)}" for b in ("p620-2gb", "gpu-8gb"))
        assert f"4-bit QLoRA plans: {cells}." in find(name, "backbone").description, name


def test_tfidf_blend_and_chunked_notes_work_with_a_decoder(llama, csv, tmp_path):
    result = runner.invoke(app, ["train", "--data", str(csv), "--split-col", "split", "--backbone", str(llama),
                                 "--json", "--quiet", "--runs-root", str(tmp_path), *BLENDED, "--set", "train.max_length=8",
                                 "--long-notes", "chunk", "--set", "model.chunk_pooling=attention"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    raw = json.loads((Path(payload["checkpoint"]) / "config.json").read_text())
    assert raw["ensemble"]["name"] == "tfidf" and raw["long_notes"]["mode"] == "chunk"
    again = runner.invoke(app, ["eval", payload["checkpoint"], "--data", str(csv), "--split-col", "split", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["confusion_matrix"] == payload["metrics"]["confusion_matrix"]


@pytest.mark.slow
def test_seed_group_and_multilabel_with_a_decoder(llama, csv, tmp_path):
    common = ["--split-col", "split", "--backbone", str(llama), "--json", "--quiet", "--runs-root", str(tmp_path / "runs"), *TINY]
    result = runner.invoke(app, ["train", "--data", str(csv), *common, "--seeds", "2"])
    assert result.exit_code == 0, result.output
    group = json.loads(result.stdout)["checkpoint"]
    evaluated = runner.invoke(app, ["eval", group, "--data", str(csv), "--split-col", "split", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    rows = ["text,label,split"]
    for i in range(40):
        labels = (["cardio"] if i % 2 else []) + (["respi"] if i % 3 == 0 else []) or ["autre"]
        words = "patient " + " ".join({"cardio": "cardiaque", "respi": "respiratoire", "autre": "sommeil"}[x] for x in labels)
        rows.append(f"{words},{'|'.join(labels)},{['train', 'train', 'dev', 'test'][i % 4]}")
    data = tmp_path / "ml.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "--data", str(data), *common, "--set", "data.task=multilabel"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    evaluated = runner.invoke(app, ["eval", payload["checkpoint"], "--data", str(data), "--split-col", "split", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["f1_micro"] == pytest.approx(payload["metrics"]["f1_micro"])
