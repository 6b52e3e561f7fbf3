"""Files as hospitals export them: semicolons, tabs, Windows-1252, and the options when guessing cannot decide."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.data.readers import read_table
from tests.conftest import TINY, make_rows

runner = CliRunner()


def excel_fr(path, rows, delimiter=";", encoding="cp1252"):
    """What French Excel writes: ; separated, Windows-1252, CRLF, quotes where needed."""
    lines = ["texte" + delimiter + "label"]
    for r in rows:
        text = r["text"] + ' ; "fièvre" à 39°C'
        lines.append('"' + text.replace('"', '""') + '"' + delimiter + r["label"])
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def test_semicolon_cp1252_is_read_with_a_warning(tmp_path):
    path = excel_fr(tmp_path / "export.csv", make_rows(30))
    table = read_table(path, "texte", "label")
    assert len(table.texts) == 30 and table.texts[0].endswith('; "fièvre" à 39°C')
    assert table.labels[:2] == ["0", "1"]
    assert any("Windows-1252" in w for w in table.warnings)
    # the same with the options given: no guessing, no warning
    explicit = read_table(path, "texte", "label", delimiter="semicolon", encoding="cp1252")
    assert explicit.texts == table.texts and not explicit.warnings


def test_tab_in_a_csv_and_comma_in_a_tsv(tmp_path):
    rows = make_rows(20)
    tabbed = tmp_path / "t.csv"
    tabbed.write_text("text\tlabel\n" + "".join(f"{r['text']}, ok\t{r['label']}\n" for r in rows), encoding="utf-8")
    assert read_table(tabbed).texts[0] == rows[0]["text"] + ", ok"
    comma = tmp_path / "c.tsv"
    comma.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows), encoding="utf-8")
    assert read_table(comma, delimiter=",").labels == [r["label"] for r in rows]


def test_train_and_predict_on_a_french_excel_export(tmp_path):
    path = excel_fr(tmp_path / "export.csv", make_rows(240, seed=2))
    result = runner.invoke(app, ["train", "--data", str(path), "--text-col", "texte", "--run-dir", str(tmp_path / "r"),
                                 "--json", "--quiet", *TINY, "--epochs", "1", "--set", "train.max_steps=2",
                                 "--set", "train.baseline=false", "--encoding", "cp1252", "--delimiter", ";"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["n"] > 0
    predicted = runner.invoke(app, ["predict", str(tmp_path / "r"), "--data", str(path), "--text-col", "texte"])
    assert predicted.exit_code == 0, predicted.output
    assert len(predicted.stdout.splitlines()) == 240
