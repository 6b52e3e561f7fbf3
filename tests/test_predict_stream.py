"""``clinitui predict`` streams: memory bounded by the chunk, not the file; the rows equal the whole-file
predictions; a failed run leaves no file; an int8 export states (and keeps) its agreement."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()
QUICK = ["--epochs", "1", "--set", "train.max_steps=2", "--set", "train.baseline=false"]


def train(root: Path, *args: str) -> Path:
    data = write_csv(root / "train.csv", make_rows(240, seed=4))
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(root / "run"), "--json", "--quiet",
                                 *QUICK, *args])
    assert result.exit_code == 0, result.output
    return root / "run"


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("net"), *TINY)


@pytest.fixture(scope="module")
def tfidf(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("tfidf"), "--backbone", "tfidf")


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> tuple[Path, list[str]]:
    from clinitui.data.demo import generate_notes

    texts = list(generate_notes(61, seed=8)[0])  # many lengths: the batches within a chunk are sorted by length
    return write_csv(tmp_path_factory.mktemp("notes") / "notes.csv", [{"id": i, "text": t} for i, t in enumerate(texts)]), texts


def read_out(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_streamed_rows_equal_the_whole_file_predictions(network, notes, tmp_path):
    from clinitui.engine.evaluate.assess import postprocess
    from clinitui.engine.inference.predictor import checkpoint_probabilities

    data, texts = notes
    result = runner.invoke(app, ["predict", str(network), "--data", str(data), "--chunk-rows", "7",
                                 "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    assert "peak memory" in result.stderr and "wrote 61 predictions" in result.stderr
    rows = read_out(tmp_path / "p.csv")
    raw, info = checkpoint_probabilities(network / "checkpoint", texts, device="cpu")  # all notes in one call
    probs, predicted = postprocess(raw, info)
    assert [int(r["row"]) for r in rows] == list(range(len(texts)))
    assert list(rows[0]) == ["row", "predicted", *[f"p_{n}" for n in info.label_names], "threshold"]
    assert [r["predicted"] for r in rows] == [info.label_names[k] for k in predicted]
    for name_i, name in enumerate(info.label_names):
        assert np.abs(np.array([float(r[f"p_{name}"]) for r in rows]) - probs[:, name_i]).max() < 2e-6


def test_an_export_streams_the_same_rows_from_csv_jsonl_and_parquet(network, notes, tmp_path):
    from clinitui.export.onnx_predict import ExportedModel

    data, texts = notes
    out = tmp_path / "export"
    assert runner.invoke(app, ["export", str(network), "--out", str(out)]).exit_code == 0
    whole = ExportedModel(out).probabilities(texts)
    (tmp_path / "n.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    files = [data, tmp_path / "n.jsonl"]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": texts}), tmp_path / "n.parquet")
        files.append(tmp_path / "n.parquet")
    except ImportError:
        pass
    for path in files:
        result = runner.invoke(app, ["predict", str(out), "--data", str(path), "--chunk-rows", "5"])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["row"] for r in rows] == list(range(len(texts))), path
        assert np.abs(np.array([r["p_1"] for r in rows]) - whole[:, 1]).max() < 2e-6, path


def test_memory_is_bounded_by_the_chunk_not_the_file(tfidf, tmp_path):
    """Peak RSS for 16,000 notes is that of 4,000 (reading the whole file grew it by ~110 MiB here)."""
    rows = [{"text": r["text"]} for r in make_rows(16_000, seed=6)]
    small, large = write_csv(tmp_path / "4k.csv", rows[:4000]), write_csv(tmp_path / "16k.csv", rows)
    code = ("import sys\nfrom clinitui.cli.app import app\n"
            "for data in sys.argv[2:]:\n"
            "    try:\n        app(['predict', sys.argv[1], '--data', data, '--out', data + '.out'])\n"
            "    except SystemExit as e:\n        assert not e.code, e.code\n")
    done = subprocess.run([sys.executable, "-c", code, str(tfidf), str(small), str(large)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    peaks = [float(line.rsplit("peak memory ", 1)[1].split()[0].replace(",", ""))
             for line in done.stderr.splitlines() if "peak memory" in line]
    assert len(peaks) == 2 and peaks[1] - peaks[0] < 15, peaks
    assert len(read_out(Path(str(large) + ".out"))) == 16_000


def test_a_failed_run_leaves_no_file_and_says_one_line(tfidf, tmp_path):
    texts = [r["text"] for r in make_rows(30, seed=2)]
    data = write_csv(tmp_path / "bad.csv", [{"text": t} for t in texts[:25]] + [{"text": ""}] + [{"text": texts[0]}])
    out = tmp_path / "p.csv"
    out.write_text("older predictions\n")
    result = runner.invoke(app, ["predict", str(tfidf), "--data", str(data), "--chunk-rows", "4", "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].endswith("1 row(s) with an empty 'text' (rows 27); remove them or fill them in")
    assert out.read_text() == "older predictions\n" and not list(tmp_path.glob(".p.csv*"))
    for args, words in ((["--text-col", "note"], "no column 'note'"), (["--data", str(tmp_path)], "is a folder")):
        result = runner.invoke(app, ["predict", str(tfidf), "--data", str(data), *args])
        assert result.exit_code == 2 and words in result.stderr and "Traceback" not in result.output


def test_rate_lines_off_a_terminal(capsys):
    from clinitui.cli.predict_out import Meter

    meter = Meter(None, every=0.0)
    meter.add(120_000)
    meter.close()
    err = capsys.readouterr().err
    assert err.startswith("predicted 120,000 notes, ") and err.rstrip().endswith("notes/s")
    assert "peak memory" in meter.summary()


def test_int8_export_states_its_agreement_and_keeps_it(network, notes, tmp_path):
    from clinitui.export.onnx_predict import ExportedModel, graph_session, run_graph

    data, texts = notes
    floated, int8 = tmp_path / "float", tmp_path / "int8"
    assert runner.invoke(app, ["export", str(network), "--out", str(floated)]).exit_code == 0
    result = runner.invoke(app, ["export", str(network), "--out", str(int8), "--quantize", "int8"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((int8 / "export.json").read_text())
    q = manifest["quantization"]
    assert q["type"] == "int8" and q["agreement"] >= 0.995 and q["check_notes"] == 256
    assert "float model's on" in result.stderr
    check = np.load(int8 / "check.npz", allow_pickle=False)  # token ids and probabilities only: no text
    assert sorted(check.files) == ["ids", "lengths", "probabilities"] and check["ids"].dtype == np.int32
    ids = [list(map(int, row[:n])) for row, n in zip(check["ids"], check["lengths"])]
    again = run_graph(graph_session(int8 / "model.onnx"), ids, int(manifest["pad_id"]))
    # activations are quantised per batch: other batches give other roundings, within the same bound
    assert np.abs(again - check["probabilities"]).max() < max(0.01, 2 * q["max_abs_diff"])
    predicted = runner.invoke(app, ["predict", str(int8), "--data", str(data)])
    assert predicted.exit_code == 0 and "int8 export: its labels agree" in predicted.stderr
    labels = [json.loads(line)["predicted"] for line in predicted.stdout.splitlines()]
    float_model = ExportedModel(floated)
    expect = [float_model.labels[k] for k in float_model.decide(float_model.probabilities(texts))]
    assert np.mean([a == b for a, b in zip(labels, expect)]) >= 0.995
    bad = runner.invoke(app, ["export", str(network), "--out", str(tmp_path / "x"), "--quantize", "int4"])
    assert bad.exit_code == 2 and "int8" in bad.stderr and not (tmp_path / "x").exists()


def test_an_export_of_another_format_version_is_refused(network, notes, tmp_path):
    out = tmp_path / "export"
    assert runner.invoke(app, ["export", str(network), "--out", str(out)]).exit_code == 0
    manifest = json.loads((out / "export.json").read_text())
    (out / "export.json").write_text(json.dumps({**manifest, "format_version": 99}))
    result = runner.invoke(app, ["predict", str(out), "--data", str(notes[0])])
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "export the run again" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("path", ["pytorch", "onnx"])
def test_network_memory_is_bounded(network, tmp_path, path):
    """The same bound through the network paths (20,000 notes on the tiny model: slow tier)."""
    target = network
    if path == "onnx":
        target = tmp_path / "export"
        assert runner.invoke(app, ["export", str(network), "--out", str(target)]).exit_code == 0
    rows = [{"text": r["text"]} for r in make_rows(20_000, seed=6)]
    small, large = write_csv(tmp_path / "5k.csv", rows[:5000]), write_csv(tmp_path / "20k.csv", rows)
    peaks = []
    for data in (small, large):
        done = subprocess.run([sys.executable, "-m", "clinitui", "predict", str(target), "--data", str(data),
                               "--out", str(data) + ".out"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        peaks.append(float(done.stderr.rsplit("peak memory ", 1)[1].split()[0].replace(",", "")))
    assert peaks[1] - peaks[0] < 15, peaks
