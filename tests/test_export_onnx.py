"""ONNX export: the exported graph gives the PyTorch checkpoint's probabilities (within 1e-4) for the
from-scratch backbone with every adapter and for a Hugging Face backbone, and runs without torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("onnxruntime")

from clinitui.cli.app import app  # noqa: E402
from clinitui.data.demo import generate_notes  # noqa: E402
from clinitui.models import registry  # noqa: E402
from tests.conftest import TINY, make_rows, write_csv  # noqa: E402

runner = CliRunner()
QUICK = ["--epochs", "1", "--set", "train.max_steps=2", "--set", "train.baseline=false", "--set", "train.lr=3e-2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("onnx") / "notes.csv", make_rows(240, seed=4))


@pytest.fixture(scope="module")
def notes() -> list[str]:
    texts, _ = generate_notes(300, seed=3)  # demo notes of many lengths: dynamic batch and sequence axes
    return list(texts)


def train(tmp_path: Path, data: Path, *args: str) -> Path:
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(tmp_path / "run"), "--json",
                                 "--quiet", *QUICK, *args])
    assert result.exit_code == 0, result.output
    return tmp_path / "run"


def export(run: Path, out: Path) -> Path:
    result = runner.invoke(app, ["export", str(run), "--format", "onnx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def assert_same_probabilities(run: Path, out: Path, notes: list[str]) -> None:
    from clinitui.engine.evaluate.assess import postprocess
    from clinitui.engine.inference.apply import probabilities
    from clinitui.export.onnx_predict import ExportedModel

    raw, info = probabilities(run / "checkpoint", notes, device="cpu")
    torch_probs, _ = postprocess(raw, info)  # what `predict` reports: the stored temperature applied
    onnx_probs = ExportedModel(out).probabilities(notes)
    assert onnx_probs.shape == torch_probs.shape == (len(notes), 2)
    assert np.abs(onnx_probs - torch_probs).max() < 1e-4


@pytest.mark.parametrize("adapter", sorted(set(registry.entries("adapter")) - {"lora"}))  # lora: pre-trained only
def test_scratch_backbone_with_each_adapter(adapter, tmp_path, data, notes):
    run = train(tmp_path, data, *TINY, "--adapter", adapter)
    assert_same_probabilities(run, export(run, tmp_path / "export"), notes)


@pytest.mark.parametrize("adapter", ["grn", "lora"])
def test_hugging_face_backbone(adapter, tmp_path, data, notes):
    from tests.test_zoo import build_tiny_hf

    folder = build_tiny_hf(tmp_path / "tiny-camembert", "camembert")
    run = train(tmp_path, data, "--backbone", str(folder), "--adapter", adapter, "--set", "train.max_length=48")
    assert_same_probabilities(run, export(run, tmp_path / "export"), notes)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, data) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("exported")
    run = train(root, data, *TINY)
    return run, export(run, root / "export")


def test_predict_from_the_export_never_imports_torch(exported, data):
    run, out = exported
    code = ("import sys\nfrom clinitui.cli.app import app\n"
            f"try:\n    app(['predict', {str(out)!r}, '--data', {str(data)!r}])\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('TORCH' if 'torch' in sys.modules else 'CLEAN', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("CLEAN")
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    expected = runner.invoke(app, ["predict", str(run), "--data", str(data)])
    torch_rows = [json.loads(line) for line in expected.stdout.splitlines()]
    assert len(rows) == len(torch_rows) == 240
    assert [r["predicted"] for r in rows] == [r["predicted"] for r in torch_rows]
    assert max(abs(a["p_1"] - b["p_1"]) for a, b in zip(rows, torch_rows)) < 1e-4


def test_temperature_and_threshold_travel_with_the_export(exported, tmp_path, notes):
    from clinitui.engine.inference.apply import probabilities
    from clinitui.export.onnx_predict import ExportedModel

    run, _ = exported
    ckpt = tmp_path / "checkpoint"
    shutil.copytree(run / "checkpoint", ckpt)
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg.update(temperature=2.5, operating_point={"rule": "youden", "threshold": 0.3})
    (ckpt / "config.json").write_text(json.dumps(cfg))
    model = ExportedModel(export(ckpt, tmp_path / "export"))
    assert model.manifest["temperature"] == 2.5 and model.manifest["operating_point"]["threshold"] == 0.3
    p, _ = probabilities(ckpt, notes, device="cpu")
    logits = np.log(p) / 2.5
    calibrated = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    got = model.probabilities(notes)
    assert np.abs(got - calibrated).max() < 1e-4
    pos = cfg["positive_index"]
    assert (model.decide(got) == np.where(got[:, pos] >= 0.3, pos, 1 - pos)).all()


def test_an_ensemble_checkpoint_exports_the_blend(tmp_path, data, notes):
    """The default checkpoint blends the network with TF-IDF: the export carries both and the weight."""
    run = train(tmp_path, data, *TINY, "--set", "model.ensemble=tfidf")
    out = export(run, tmp_path / "export")
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["ensemble"]["name"] == "tfidf" and (out / "tfidf" / "tfidf.json").is_file()
    assert_same_probabilities(run, out, notes)
    code = ("import sys\nfrom clinitui.export.onnx_predict import ExportedModel\n"
            f"ExportedModel({str(out)!r}).probabilities(['patient stable', 'dyspnea and edema'])\n"
            "print('TORCH' if 'torch' in sys.modules else 'CLEAN')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "CLEAN", done.stderr  # the blend needs no torch


def test_damaged_ensemble_and_bad_format_are_refused(exported, tmp_path):
    run, _ = exported
    ckpt = tmp_path / "checkpoint"
    shutil.copytree(run / "checkpoint", ckpt)
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["ensemble"] = {"name": "tfidf", "weight": 0.5, "path": "tfidf"}  # no TF-IDF files behind it
    (ckpt / "config.json").write_text(json.dumps(cfg))
    result = runner.invoke(app, ["export", str(ckpt), "--out", str(tmp_path / "e")])
    assert result.exit_code == 2 and "TF-IDF" in result.stderr
    assert result.stderr.splitlines() == [f"using checkpoint {ckpt}", result.stderr.splitlines()[-1]]
    result = runner.invoke(app, ["export", str(run), "--format", "tflite", "--out", str(tmp_path / "f")])
    assert result.exit_code == 2 and "onnx" in result.stderr
    assert not (tmp_path / "e").exists() and not (tmp_path / "f").exists()
