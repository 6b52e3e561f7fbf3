"""Readers, splits and the tokenizer on real files."""

from __future__ import annotations

import json

import pytest

from clinitui.data.readers import read_table
from clinitui.data.splits import make_dataset
from clinitui.data.tokenizers import SubwordEncoder, train_tokenizer
from clinitui.errors import DataError
from tests.conftest import make_rows, write_csv


def test_csv_tsv_jsonl_parquet_read_the_same(tmp_path):
    data = make_rows(30)
    csv_t = read_table(write_csv(tmp_path / "a.csv", data))
    tsv_t = read_table(write_csv(tmp_path / "a.tsv", data, delimiter="\t"))
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps({"text": r["text"], "label": int(r["label"])}) for r in data))
    jsonl_t = read_table(tmp_path / "a.jsonl")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [r["text"] for r in data], "label": [int(r["label"]) for r in data]}),
                   tmp_path / "a.parquet")
    pq_t = read_table(tmp_path / "a.parquet")
    for t in (tsv_t, jsonl_t, pq_t):
        assert t.texts == csv_t.texts and t.labels == csv_t.labels


def test_bom_and_custom_columns(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffnote;cls\n".replace(";", ",").encode("utf-8") + "fièvre,oui\ntoux,non\n".encode("utf-8"))
    t = read_table(path, text_col="note", label_col="cls")
    assert t.texts == ["fièvre", "toux"] and t.labels == ["oui", "non"]


def test_split_column_aliases(tmp_path):
    data = make_rows(6)
    for r, s in zip(data, ["train", "TRAIN", "dev", "validation", "test", "val"]):
        r["split"] = s
    t = read_table(write_csv(tmp_path / "s.csv", data), split_col="split")
    assert t.splits == ["train", "train", "val", "val", "test", "val"]


def test_stratified_split_is_deterministic_and_stratified(tmp_path):
    rows = make_rows(300)
    rows[:100] = [dict(r, label="1") for r in rows[:100]]  # imbalance: 200 vs 100
    table = read_table(write_csv(tmp_path / "d.csv", rows))
    a = make_dataset(table, seed=3)
    b = make_dataset(table, seed=3)
    c = make_dataset(table, seed=4)
    assert a.train.texts == b.train.texts and a.test.texts == b.test.texts
    assert a.test.texts != c.test.texts
    counts = a.counts()
    assert sum(sum(v.values()) for v in counts.values()) == 300
    pos_share = {s: counts[s]["1"] / sum(counts[s].values()) for s in counts}
    assert all(abs(v - 200 / 300) < 0.05 for v in pos_share.values()), pos_share
    assert a.positive_index == 1 and a.label_names == ["0", "1"]
    assert a.split_kind.startswith("stratified(seed=3")


def test_held_out_only_test_carves_val_from_train(tmp_path):
    rows = make_rows(100)
    for i, r in enumerate(rows):
        r["split"] = "test" if i % 5 == 0 else "train"
    ds = make_dataset(read_table(write_csv(tmp_path / "d.csv", rows), split_col="split"))
    assert len(ds.test.texts) == 20 and len(ds.val.texts) > 0
    assert len(ds.train.texts) + len(ds.val.texts) == 80
    assert any("took" in w for w in ds.warnings)


def test_duplicates_across_splits_warn(tmp_path):
    rows = make_rows(40)
    for i, r in enumerate(rows):
        r["split"] = "test" if i % 4 == 0 else ("dev" if i % 4 == 1 else "train")
    rows.append(dict(rows[0], split="train"))
    ds = make_dataset(read_table(write_csv(tmp_path / "d.csv", rows), split_col="split"))
    assert any("also appear in train" in w for w in ds.warnings)


def test_string_labels_and_positive_label(tmp_path):
    rows = [dict(r, label="ic" if r["label"] == "1" else "autre") for r in make_rows(60)]
    table = read_table(write_csv(tmp_path / "d.csv", rows))
    assert make_dataset(table).positive_index == 1  # 'ic' sorts after 'autre'; default: second label
    assert make_dataset(table, positive_label="autre").positive_index == 0
    with pytest.raises(DataError, match="not a class"):
        make_dataset(table, positive_label="x")


def test_tokenizer_is_reproducible_keeps_rare_words_out_and_round_trips(tmp_path):
    texts = [r["text"] for r in make_rows(200)] + ["Dupontel admis ce jour"]
    a = train_tokenizer(texts, vocab_size=400, min_frequency=3)
    b = train_tokenizer(texts, vocab_size=400, min_frequency=3)
    assert a.tokenizer.get_vocab() == b.tokenizer.get_vocab()
    vocab = a.tokenizer.get_vocab()
    assert "dyspnée" in vocab and not any("dupont" in t for t in vocab)
    ids = a.encode(texts[:5], max_length=8)
    assert all(len(x) <= 8 for x in ids) and all(x[0] == 2 for x in ids)  # [CLS] first
    a.save(tmp_path)
    assert SubwordEncoder.load(tmp_path).encode(texts[:5], 8) == ids
