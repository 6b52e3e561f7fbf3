"""Bad input: one clear line naming the problem, exit code 2, no traceback, no run directory left."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()
CANARY = "ZZCANARYNOTE"


def rows(n=60, **extra):
    out = make_rows(n)
    for r in out:
        r.update(extra)
    return out


def _write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


# name -> (builder(tmp) -> data path, extra args, expected message fragment)
CASES = {
    "missing file": (lambda d: d / "nope.csv", [], "no such file"),
    "folder": (lambda d: d, [], "is a folder"),
    "empty file": (lambda d: _write(d / "e.csv", ""), [], "empty"),
    "header only": (lambda d: _write(d / "h.csv", "text,label\n"), [], "no rows"),
    "bad encoding": (lambda d: _write(d / "bytes.csv", b"text,label\n" + b"\n".join(  # 0x81: not UTF-8 nor cp1252
        f"fi\x81vre {CANARY} {i},{i % 2}".encode("latin-1") for i in range(40))), [], "nor Windows-1252"),
    "bytes invalid in the encoding given": (lambda d: _write(d / "latin1.csv", ("text,label\n" + "\n".join(
        f"fi\xe8vre {CANARY} {i},{i % 2}" for i in range(40))).encode("latin-1")), ["--encoding", "utf-8"],
        "not valid utf-8"),
    "unknown encoding": (lambda d: write_csv(d / "ok.csv", rows()), ["--encoding", "klingon"], "unknown encoding"),
    "missing text column": (lambda d: write_csv(d / "c.csv", [{"note": r["text"], "label": r["label"]} for r in rows()]),
                            [], "columns are: note, label"),
    "missing label column": (lambda d: write_csv(d / "c.csv", [{"text": r["text"], "y": r["label"]} for r in rows()]),
                             [], "choose with --label-col"),
    "undecidable delimiter": (lambda d: _write(d / "s.csv", "text;label,x\n" + "\n".join(
        f"{CANARY} {i};{i % 2},y" for i in range(40))), [], "--delimiter"),
    "other delimiter than the file's": (lambda d: write_csv(d / "s.csv", rows(), delimiter=";"),
                                        ["--delimiter", "tab"], "--delimiter"),
    "empty texts": (lambda d: write_csv(d / "t.csv", [{"text": "", "label": "0"}] + rows()), [], "empty 'text'"),
    "nan label": (lambda d: write_csv(d / "n.csv", [{"text": CANARY, "label": "NaN"}] + rows()), [], "no label"),
    "mixed labels": (lambda d: write_csv(d / "m.csv", [{"text": CANARY + " x", "label": "cardiac"}] + rows()), [],
                     "mixes numbers and words"),
    "single class": (lambda d: write_csv(d / "o.csv", [{"text": r["text"], "label": "1"} for r in rows()]), [],
                     "only one class"),
    "too few of a class": (lambda d: write_csv(d / "f.csv", rows() + [{"text": CANARY, "label": "2"},
                                                                    {"text": CANARY, "label": "2"}]),
                           [], "too few examples"),
    "unknown split value": (lambda d: write_csv(d / "u.csv", rows(split="holdout")), ["--split-col", "split"],
                            "use train, dev/val/validation or test"),
    "nul bytes": (lambda d: _write(d / "z.csv", "text,label\n" + "\n".join(f"a\x00b {i},{i % 2}" for i in range(40))),
                  [], "NUL"),
    "10 MB single note": (lambda d: write_csv(d / "big.csv", [{"text": "x" * 10_000_000, "label": "1"}] + rows()),
                          [], "limit 1,000,000"),
    "pre-trained folder without weights": (lambda d: (write_csv(d / "ok.csv", rows()), _write(d / "config.json", json.dumps(
        {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 64, "vocab_size": 100, "max_position_embeddings": 64})))[0],
                                           ["--backbone", "{src}"], "could not load the weights"),
    "missing pre-trained folder": (lambda d: write_csv(d / "ok.csv", rows()), ["--backbone", "/nonexistent/camembert"],
                                   "does not exist"),
    "unknown file type": (lambda d: _write(d / "x.xlsx", "x"), [], "unknown file type"),
    "bad jsonl": (lambda d: _write(d / "j.jsonl", '{"text": "a", "label": 1}\n{oops\n'), [], "not valid JSON"),
    "unknown backbone": (lambda d: write_csv(d / "ok.csv", rows()), ["--backbone", "scratch-transformr"],
                         "did you mean 'scratch-transformer'"),
    "unknown adapter": (lambda d: write_csv(d / "ok.csv", rows()), ["--adapter", "gnr"], "did you mean 'grn'"),
    "unknown setting": (lambda d: write_csv(d / "ok.csv", rows()), ["--set", "train.epoch=3"], "did you mean 'epochs'"),
    "bad setting value": (lambda d: write_csv(d / "ok.csv", rows()), ["--set", "train.lr=-1"], "train.lr"),
    "bad backbone option": (lambda d: write_csv(d / "ok.csv", rows()), ["--set", "model.backbone_options.size=huge"],
                            "valid options"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_training_input(name, tmp_path):
    build, extra, fragment = CASES[name]
    src = tmp_path / "src"
    src.mkdir()
    data = build(src)
    root = tmp_path / "runs"
    extra = [x.replace("{src}", str(src)) for x in extra]
    settings = [] if "--backbone" in extra else TINY  # TINY holds options of the scratch backbone only
    result = runner.invoke(app, ["train", "--data", str(data), "--runs-root", str(root), *settings, *extra])
    assert result.exit_code == 2, (name, result.output)
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("clinitui: error:"), result.stderr
    assert fragment in err[0], err[0]
    assert "Traceback" not in result.output and CANARY not in result.output
    assert not root.exists() or not any(root.iterdir()), "a run directory was left behind"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("ck")
    data = write_csv(root / "d.csv", make_rows(80))
    result = runner.invoke(app, ["train", "--data", str(data), "--epochs", "1", "--json", "--quiet",
                                 "--run-dir", str(root / "run"), *TINY])
    assert result.exit_code == 0, result.output
    return Path(json.loads(result.stdout)["checkpoint"]), data


def _damage(ckpt: Path, tmp: Path, how: str) -> Path:
    copy = tmp / "ckpt"
    shutil.copytree(ckpt, copy)
    if how == "missing weights":
        (copy / "model.safetensors").unlink()
    elif how == "truncated weights":
        w = copy / "model.safetensors"
        w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    elif how == "tampered config":
        cfg = json.loads((copy / "config.json").read_text())
        cfg["label_names"] = ["0"]
        (copy / "config.json").write_text(json.dumps(cfg))
    elif how == "not a checkpoint":
        (copy / "config.json").write_text('{"model_type": "bert"}')
    elif how == "pickle weights":
        import pickle

        (copy / "model.safetensors").unlink()
        (copy / "pytorch_model.bin").write_bytes(pickle.dumps({"x": 1}))
    elif how == "missing tokenizer":
        (copy / "tokenizer.json").unlink()
    return copy


@pytest.mark.parametrize("how,fragment", [
    ("missing weights", "no model.safetensors"), ("truncated weights", "checksum mismatch"),
    ("tampered config", "altered or damaged"), ("not a checkpoint", "not a clinitui checkpoint"),
    ("pickle weights", "no model.safetensors"), ("missing tokenizer", "tokenizer.json"),
])
def test_bad_checkpoint(checkpoint, tmp_path, how, fragment):
    ckpt, data = checkpoint
    bad = _damage(ckpt, tmp_path, how)
    for command in (["eval", str(bad), "--data", str(data)], ["predict", str(bad), "--data", str(data)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert fragment in result.stderr and "Traceback" not in result.output


def test_eval_with_labels_the_checkpoint_does_not_know(checkpoint, tmp_path):
    ckpt, _ = checkpoint
    data = write_csv(tmp_path / "new.csv", [{"text": "bilan normal", "label": "7"}] + make_rows(10))
    result = runner.invoke(app, ["eval", str(ckpt), "--data", str(data)])
    assert result.exit_code == 2
    assert "unknown to the checkpoint" in result.stderr and "'7'" in result.stderr


def test_missing_checkpoint_folder(tmp_path, small_csv):
    result = runner.invoke(app, ["eval", str(tmp_path / "none"), "--data", str(small_csv)])
    assert result.exit_code == 2 and "no such checkpoint folder" in result.stderr


def test_run_dir_that_is_not_empty(tmp_path, small_csv):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("precious")
    result = runner.invoke(app, ["train", "--data", str(small_csv), "--run-dir", str(tmp_path / "busy"), *TINY])
    assert result.exit_code != 0 and "not empty" in result.stderr
    assert (tmp_path / "busy" / "keep.txt").read_text() == "precious"


def test_a_100k_character_note_is_accepted_and_truncated(tmp_path):
    from clinitui.config.overrides import validate
    from clinitui.engine.recipes.train import prepare

    long_row = {"text": "dyspnée " * 12_500, "label": "1"}  # 100,000 characters on one line
    data = write_csv(tmp_path / "long.csv", rows() + [long_row])
    prepared = prepare(validate({"data": {"path": str(data)}}))
    assert max(len(t) for t in prepared.dataset.train.texts + prepared.dataset.val.texts
               + prepared.dataset.test.texts) == 100_000
