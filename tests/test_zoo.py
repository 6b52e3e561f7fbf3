"""Every backbone × every adapter, trained for a few steps on CPU through the real CLI.

Backbone kinds and adapters are discovered from the registries, so a new entry file is tested
without editing this file: from-scratch backbones run at their tiny size, Hugging Face ones from
tiny random-weight CamemBERT / RoBERTa folders saved with ``save_pretrained`` and passed as
``--backbone DIR`` (the path a user's offline folder takes), decoder LLMs from a tiny Llama folder
(tests/decoder_fixtures.py). Each case checks that the loss goes
down, that the checkpoint scores identically through ``clinitui eval``, and that the trainable
parameters follow the freeze policy (a frozen backbone does not change).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.engine.checkpoint.folder import load_checkpoint
from clinitui.models import registry
from clinitui.models.backbones.decoder import DecoderBackbone
from clinitui.models.backbones.hf import HFBackbone
from clinitui.models.classifier import build_classifier, resolve_backbone

CLASS_WORDS = {
    "cardio": "insuffisance cardiaque souffle tachycardie inotrope échocardiographie fraction éjection "
              "milrinone œdème hépatomégalie galop".split(),
    "respi": "détresse respiratoire bronchiolite oxygène ventilation désaturation sibilants tirage "
             "pneumonie apnée aérosol".split(),
    "neuro": "convulsion épilepsie coma méningite hypotonie céphalées glasgow midazolam scanner "
             "encéphalite somnolence".split(),
}
FILLER = ("patient enfant admis aux soins intensifs pédiatriques pour surveillance évolution favorable "
          "examen clinique bilan biologique parents informés traitement poursuivi jour nuit calme").split()
SCRATCH_OPTIONS = {"size": "tiny", "vocab_size": 300, "min_frequency": 1, "dropout": 0.0}
# Full-batch steps (64 ≥ the 54 training notes) without dropout: every step sees the same data,
# so "the loss goes down" is a clean signal rather than batch-to-batch noise.
STEPS = 8
TRAIN_SETS = [f"train.max_steps={STEPS}", f"train.epochs={STEPS}", "train.batch_size=64", "train.max_length=32",
              "train.log_every=1", "train.early_stopping=false", "train.warmup_fraction=0",
              "train.threads=1", "model.dropout=0"]
runner = CliRunner()


def note(rng: random.Random, label: str) -> str:
    words = rng.sample(CLASS_WORDS[label], 4) + rng.choices(FILLER, k=rng.randint(4, 10))
    rng.shuffle(words)
    return " ".join(words)


def write_notes_csv(path: Path, per_class: int = 30, seed: int = 0) -> Path:
    """A small, learnable 3-class CSV with an official-style split column (60/20/20 per class)."""
    import csv

    rng = random.Random(seed)
    rows = []
    for label in CLASS_WORDS:
        for i in range(per_class):
            split = "train" if i < per_class * 0.6 else "dev" if i < per_class * 0.8 else "test"
            rows.append({"text": note(rng, label), "label": label, "split": split})
    rng.shuffle(rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def build_tiny_hf(folder: Path, arch: str) -> Path:
    """A random-weight 2-layer CamemBERT or RoBERTa with a small trained tokenizer, saved like a hub model."""
    import json as _json

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import CamembertConfig, CamembertModel, CamembertTokenizer, RobertaConfig, RobertaModel, RobertaTokenizer

    corpus = [" ".join(w) for w in CLASS_WORDS.values()] * 5 + [" ".join(FILLER)] * 5
    if arch == "camembert":  # SentencePiece-style Unigram, CamemBERT's special-token layout
        specials = ["<s>NOTUSED", "<pad>", "</s>NOTUSED", "<unk>", "<unk>NOTUSED", "<mask>", "<s>", "</s>"]
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.train_from_iterator(corpus, trainers.UnigramTrainer(vocab_size=500, special_tokens=specials,
                                                                unk_token="<unk>", show_progress=False))
        vocab = [tuple(x) for x in _json.loads(tok.to_str())["model"]["vocab"]]
        hf_tok = CamembertTokenizer(vocab=vocab, model_max_length=64)
        config_cls, model_cls = CamembertConfig, CamembertModel
    else:  # byte-level BPE like RoBERTa / AliBERT-style encoders
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(corpus, trainers.BpeTrainer(
            vocab_size=700, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
        tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
        hf_tok = RobertaTokenizer(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                  unk_token="<unk>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
                                  model_max_length=64)
        config_cls, model_cls = RobertaConfig, RobertaModel
    hf_tok.save_pretrained(str(folder))
    config = config_cls(vocab_size=len(hf_tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=66, pad_token_id=hf_tok.pad_token_id,
                        bos_token_id=hf_tok.bos_token_id, eos_token_id=hf_tok.eos_token_id,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    model_cls(config).save_pretrained(str(folder))  # safetensors, as on the hub
    return folder


@pytest.fixture(scope="session")
def notes_csv(tmp_path_factory) -> Path:
    return write_notes_csv(tmp_path_factory.mktemp("data") / "notes.csv")


@pytest.fixture(scope="session")
def hf_folders(tmp_path_factory) -> dict[str, Path]:
    from tests.decoder_fixtures import tiny_decoder

    root = tmp_path_factory.mktemp("hf")
    folders = {arch: build_tiny_hf(root / f"tiny-{arch}", arch) for arch in ("camembert", "roberta")}
    words = sorted({w for ws in CLASS_WORDS.values() for w in ws} | set(FILLER))
    folders["llama"] = tiny_decoder(root / "tiny-llama", "llama", words=words)
    return folders


def _is_decoder(name: str) -> bool:
    return issubclass(registry.get("backbone", name).cls, DecoderBackbone)


def _is_hf(name: str) -> bool:
    return issubclass(registry.get("backbone", name).cls, HFBackbone)


def backbone_kinds() -> list[str]:
    """From-scratch entries by name, plus the generic HF entry as two folders (CamemBERT, RoBERTa)."""
    names = registry.entries("backbone")
    # the TF-IDF model has no network, tokenizer or adapter: tests/test_accuracy.py covers it
    kinds = [n for n in sorted(names) if not _is_hf(n) and getattr(names[n].cls, "neural", True)]
    return kinds + ["hf-folder:camembert", "hf-folder:roberta", "hf-folder:llama"]


def named_hf_entries() -> list[str]:
    """Named pre-trained entries (camembert-bio, drbert, qwen2.5-0.5b ...): tested through their ``path`` option."""
    return [n for n in sorted(registry.entries("backbone")) if _is_hf(n) and n not in ("hf", "decoder")]


def backbone_args(kind: str, hf_folders: dict[str, Path]) -> tuple[str, dict]:
    """(``--backbone`` value, backbone options) for a test kind."""
    if kind.startswith("hf-folder:"):
        return str(hf_folders[kind.split(":")[1]]), {}
    if _is_hf(kind):  # a named entry: its hub id is unreachable here, so point `path` at a tiny folder
        arch = "roberta" if "roberta" in (registry.get("backbone", kind).cls.__doc__ or "").lower() else "camembert"
        arch = "llama" if _is_decoder(kind) else arch
        return kind, {"path": str(hf_folders[arch])}
    fields = registry.get("backbone", kind).cls.Options.model_fields
    return kind, {k: v for k, v in SCRATCH_OPTIONS.items() if k in fields}


def train_cli(tmp_path: Path, csv_path: Path, backbone: str, adapter: str, options: dict, extra: list[str] = ()) -> dict:
    sets = list(TRAIN_SETS) + [f"model.backbone_options.{k}={json.dumps(v)}" for k, v in options.items()]
    # Frozen random-weight encoders give small-scale features: the head needs a larger step.
    pretrained = "/" in backbone or _is_hf(backbone)
    decoder = issubclass(resolve_backbone(backbone)[0], DecoderBackbone)  # LoRA inside: a smaller step
    sets.append(f"train.lr={3e-2 if pretrained and not decoder else 3e-3}")
    if "dropout" in registry.get("adapter", adapter).cls.Options.model_fields:
        sets.append("model.adapter_options.dropout=0.0")
    sets += list(extra)
    args = ["train", "--data", str(csv_path), "--split-col", "split", "--backbone", backbone, "--adapter", adapter,
            "--json", "--quiet", "--runs-root", str(tmp_path / "runs")]
    for s in sets:
        args += ["--set", s]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def read_events(run_dir: str) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "events.jsonl").read_text().splitlines()]


def check_run(tmp_path: Path, csv_path: Path, payload: dict) -> None:
    events = read_events(payload["run_dir"])
    losses = [e["loss"] for e in events if e["type"] == "step"]
    assert len(losses) == STEPS
    assert losses[-1] < losses[0] - 0.02, f"loss did not go down: {losses}"

    # The checkpoint, reloaded by `clinitui eval`, scores the test split exactly as the run did.
    result = runner.invoke(app, ["eval", payload["checkpoint"], "--data", str(csv_path), "--split-col", "split",
                                 "--split", "test", "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert again["confusion_matrix"] == payload["metrics"]["confusion_matrix"]
    assert again["f1_macro"] == pytest.approx(payload["metrics"]["f1_macro"], abs=1e-12)
    assert again["roc_auc"] == pytest.approx(payload["metrics"]["roc_auc"], abs=1e-6)  # probabilities match

    # Trainable parameters follow the freeze policy; frozen weights are exactly the initial ones.
    trained, tokenizer, info = load_checkpoint(Path(payload["checkpoint"]))
    torch.manual_seed(42)  # the engine seeds with train.seed before building the model
    initial, freeze = build_classifier(info.model, len(info.label_names), tokenizer)
    assert freeze == payload["freeze"]
    backbone = dict(initial.backbone.named_parameters())
    n_backbone = sum(p.numel() for p in backbone.values())
    n_lora = sum(p.numel() for n, p in backbone.items() if "lora_" in n)
    total = payload["params"]["total"]
    expected = {"none": total, "backbone": total - n_backbone, "lora": total - n_backbone + n_lora}[freeze]
    assert payload["params"]["trainable"] == expected
    assert sum(p.numel() for p in initial.parameters() if p.requires_grad) == expected
    if freeze == "lora":
        assert n_lora > 0
    after = dict(trained.backbone.named_parameters())
    frozen = [n for n, p in backbone.items() if not p.requires_grad]
    assert all(torch.equal(backbone[n], after[n]) for n in frozen)
    if freeze == "none":
        assert any(not torch.equal(backbone[n], after[n]) for n in backbone)


@pytest.mark.parametrize("adapter", sorted(registry.entries("adapter")))
@pytest.mark.parametrize("kind", backbone_kinds())
def test_backbone_adapter_pair(kind, adapter, tmp_path, notes_csv, hf_folders):
    backbone, options = backbone_args(kind, hf_folders)
    if adapter == "lora" and not kind.startswith("hf-folder"):
        # LoRA adapts pre-trained weights; on a from-scratch backbone it is refused (exit 2)
        result = CliRunner().invoke(app, ["train", "--data", str(notes_csv), "--backbone", backbone,
                                          "--adapter", "lora", "--run-dir", str(tmp_path / "refused")])
        assert result.exit_code == 2 and "pre-trained" in result.stderr, result.output
        return
    payload = train_cli(tmp_path, notes_csv, backbone, adapter, options)
    check_run(tmp_path, notes_csv, payload)


def named_params() -> list:
    """Named decoders differ only in their hub id and numbers: one runs in the default tier, all when slow."""
    decoders = [n for n in named_hf_entries() if _is_decoder(n)]
    return [pytest.param(n, marks=pytest.mark.slow) if n in decoders[1:] else n for n in named_hf_entries()]


@pytest.mark.parametrize("name", named_params())
def test_named_pretrained_entry_loads_from_path(name, tmp_path, notes_csv, hf_folders):
    backbone, options = backbone_args(name, hf_folders)
    payload = train_cli(tmp_path, notes_csv, backbone, "linear", options)
    # pre-trained: adapter + head train by default; decoders add LoRA on their projections
    assert payload["freeze"] == ("lora" if _is_decoder(name) else "backbone")
    check_run(tmp_path, notes_csv, payload)
