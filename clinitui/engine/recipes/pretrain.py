"""One pretraining run (``clinitui pretrain``): unlabeled text → a backbone folder ``train`` accepts.

Shaped like engine/recipes/train.py: :func:`prepare` reads the text and checks the model and its memory
plan before a run directory exists; :func:`execute` learns (or loads) the tokenizer, cuts whole
documents into windows, trains the masked-language model (engine/pretrain/loop.py), and writes
the backbone folder to ``checkpoint/`` at every evaluation and at the end (swapped in atomically,
engine/checkpoint/swap.py). The run directory (engine/recipes/scaffold.py), events, stop/resume and
``metrics.json`` follow the same contract as a training run; the ``run_started`` event says
``kind = "pretrain"``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from clinitui import __version__
from clinitui.config.overrides import to_toml
from clinitui.config.schema import RunConfig
from clinitui.data.unlabeled import Corpus, load_corpus
from clinitui.engine.checkpoint import swap
from clinitui.engine.checkpoint.state import PROGRESS, STATE_DIR, load_state, save_state
from clinitui.engine.encode.documents import encode_documents
from clinitui.engine.memory.planner import plan_for_config
from clinitui.engine.recipes.scaffold import Run, run_scaffold
from clinitui.engine.runtime.device import select_device
from clinitui.errors import ConfigError
from clinitui.rundir import write_private

# From scratch, the length and peak learning rate that left the "unigram plateau" and lifted the fine-tuned model
# on MORFITT (docs/pretraining.md: ~11 passes at 1e-3 gave +0.041, 29 passes +0.096; 1 pass at 1e-3 and 4 passes
# at 5e-4 stayed at the level of token frequencies). A pre-trained encoder keeps train.epochs passes at 5e-5.
SCRATCH_PASSES = 12
SCRATCH_LR = 1e-3

@dataclass
class PreparedPretrain:
    config: RunConfig
    corpus: Corpus
    plan: Any = None
    pretrained: bool = False  # a Hugging Face encoder (continued pretraining) rather than a scratch one


def prepare(config: RunConfig) -> PreparedPretrain:
    """Check the backbone, the plan and the data; raises ClinituiError on bad input (no run directory yet)."""
    from clinitui.models.classifier import parse_options, resolve_backbone
    from clinitui.models.pretrained import expand_backbone_folder

    if config.pretrain is None:
        raise ConfigError("not a pretraining configuration (no [pretrain] table)")
    config = expand_backbone_folder(config)  # continue pretraining a `clinitui pretrain` folder
    backbone_cls, source = resolve_backbone(config.model.backbone)
    options = parse_options(backbone_cls, config.model.backbone_options, f"backbone '{config.model.backbone}'")
    p = config.pretrain
    max_positions = getattr(options, "max_positions", None)
    if max_positions is not None and p.window > max_positions:
        raise ConfigError(f"--window {p.window} is longer than the backbone's position table ({max_positions}); "
                          f"lower --window or set --set model.backbone_options.max_positions={p.window}")
    planned = config.model_copy(deep=True)
    planned.model.adapter, planned.model.freeze = "linear", "none"  # MLM trains the whole encoder
    planned.train.max_length = p.window
    plan = plan_for_config(planned)
    backbone_cls.check_source(options, source)
    d = config.data
    corpus = load_corpus([d.path, *p.extra_data] if d.path else list(p.extra_data), text_col=d.text_col,
                         label_col=d.label_col, split_col=d.split_col, val_fraction=d.val_fraction,
                         test_fraction=d.test_fraction, split_seed=d.split_seed, include_test=p.include_test,
                         holdout_fraction=p.val_fraction, seed=config.train.seed)
    return PreparedPretrain(config, corpus, plan, bool(backbone_cls.pretrained))


def build_mlm(config: RunConfig, tokenizer, pretrained: bool):
    """The masked-language model for a new run (weights of ``init_from`` / the HF folder loaded)."""
    from safetensors.torch import load_file

    from clinitui.engine.pretrain.models import HFMLM, ScratchMLM
    from clinitui.models import pretrained as folder
    from clinitui.models.classifier import parse_options, resolve_backbone

    backbone_cls, source = resolve_backbone(config.model.backbone)
    options = parse_options(backbone_cls, config.model.backbone_options, f"backbone '{config.model.backbone}'")
    if pretrained:
        return HFMLM.load(backbone_cls.resolve_source(options, source), getattr(options, "allow_download", False))
    backbone = backbone_cls.create(options, source, tokenizer)
    backbone.load_pretrained()
    model = ScratchMLM(backbone)
    head = Path(options.init_from or "") / folder.HEAD_WEIGHTS
    if options.init_from and head.is_file():  # continued pretraining keeps the prediction head too
        state = load_file(str(head))
        model.transform.load_state_dict({k.removeprefix("transform."): v for k, v in state.items() if k != "bias"})
        model.bias.data.copy_(state["bias"])
    return model


def save_backbone_folder(directory: Path, model, tokenizer, marker: dict) -> None:
    """Write the backbone folder to ``directory`` atomically (engine/checkpoint/swap.py, as checkpoints)."""
    swap.write_folder(directory, lambda tmp: model.save_backbone(tmp, tokenizer, marker))


OOM_ADVICE = "lower --window or --set train.batch_size, or choose a larger --budget"


@dataclass
class _Setup:
    """What the steps of one pretraining run share."""

    device: Any
    precision: str
    tokenizer: Any
    train_windows: list
    val_windows: list
    model: Any = None
    recipe: Any = None  # engine/pretrain/loop.MaskRecipe
    unigram: float = 0.0  # held-out loss of token frequencies alone: the level that means "no context learnt"
    micro_batch: int = 0
    total_steps: int = 0
    lr: float = 0.0
    eval_every: int = 0
    params: dict | None = None


def execute(prepared: PreparedPretrain, path: Path, *, listeners: list[Callable[[dict], None]] | None = None,
            should_stop: Callable[[], bool] = lambda: False, resume: bool = False) -> dict:
    """Pretrain in the run directory ``path`` (new, or resumed from ``path/state/``); returns metrics.json."""
    wall_start = time.perf_counter()
    with run_scaffold(path, prepared.config, listeners=listeners, resume=resume, oom_advice=OOM_ADVICE,
                      load_snapshot=lambda: load_state(path, prepared.corpus.digest)) as run:
        s = _windows(run, prepared)
        config = _model(run, prepared, s)
        _announce(run, prepared, config, s)
        run.stage = "training"
        state = _fit(run, prepared, config, s, should_stop)
        return _finish(run, prepared, config, s, state, wall_start)


def _windows(run: Run, prepared: PreparedPretrain) -> _Setup:
    """The tokenizer (learnt on the kept text for a new run, read back on a resume) and the windows."""
    import torch

    from clinitui.engine.pretrain.masking import windows
    from clinitui.models.classifier import load_tokenizer, make_tokenizer

    config, corpus = prepared.config, prepared.corpus
    t, m, p = config.train, config.model, config.pretrain
    torch.set_num_threads(t.threads or os.cpu_count() or 1)
    device, precision = select_device(config)
    run.stage = "tokenizer"
    state_dir = run.path / STATE_DIR
    if run.snapshot is not None:
        tokenizer = load_tokenizer(m, state_dir)
    else:
        tokenizer = make_tokenizer(m, corpus.train)  # from scratch: learnt on the kept text only
        state_dir.mkdir(mode=0o700, exist_ok=True)
        tokenizer.save(state_dir)
    return _Setup(device, precision, tokenizer, windows(encode_documents(tokenizer, corpus.train), p.window, p.stride),
                  windows(encode_documents(tokenizer, corpus.val), p.window))


def _model(run: Run, prepared: PreparedPretrain, s: _Setup) -> RunConfig:
    """The MLM on its device, its masking and schedule; returns the config with the defaults it chose recorded."""
    import torch

    from clinitui.engine.pretrain.loop import MaskRecipe
    from clinitui.engine.pretrain.masking import unigram_loss
    from clinitui.models.classifier import count_parameters

    config, snapshot = prepared.config, run.snapshot
    t, p = config.train, config.pretrain
    run.stage = "model"
    torch.manual_seed(t.seed)
    s.model = build_mlm(config, s.tokenizer, prepared.pretrained).to(s.device)
    s.recipe = MaskRecipe(s.model.masking_spec(s.tokenizer), p.mask_prob, p.mask_token_fraction,
                          p.random_token_fraction, p.whole_word)
    s.unigram = unigram_loss(s.train_windows, s.val_windows, s.recipe.spec)
    s.micro_batch = min(prepared.plan.micro_batch, t.batch_size)
    if snapshot is not None and snapshot[PROGRESS].get("micro_batch"):
        s.micro_batch = snapshot[PROGRESS]["micro_batch"]
    accum = max(1, math.ceil(t.batch_size / s.micro_batch))
    steps_per_epoch = max(1, math.ceil(math.ceil(len(s.train_windows) / s.micro_batch) / accum))
    passes = t.epochs if "epochs" in t.model_fields_set or prepared.pretrained else SCRATCH_PASSES
    s.total_steps = p.steps or steps_per_epoch * passes
    s.lr = p.lr or (5e-5 if prepared.pretrained else SCRATCH_LR)
    if snapshot is None and (p.steps is None or p.lr is None):  # the defaults, recorded: a resume repeats them
        config = config.model_copy(deep=True)
        config.pretrain.steps, config.pretrain.lr = s.total_steps, s.lr
        write_private(run.path / "run.toml", to_toml(config))
    s.eval_every = config.pretrain.eval_every or max(1, s.total_steps // 10)
    s.params = count_parameters(s.model)
    return config


def _announce(run: Run, prepared: PreparedPretrain, config: RunConfig, s: _Setup) -> None:
    corpus, p, snapshot = prepared.corpus, config.pretrain, run.snapshot
    run.events.emit(
        "run_started", kind="pretrain", clinitui_version=__version__, pid=os.getpid(), run_dir=str(run.path),
        config=config.model_dump(), dataset_digest=corpus.digest, data_summary=corpus.summary(p.include_test),
        data_files=[vars(u) for u in corpus.files], n_documents=len(corpus.train), n_val_documents=len(corpus.val),
        n_windows=len(s.train_windows), n_val_windows=len(s.val_windows), n_train=len(s.train_windows),
        n_val=len(s.val_windows), n_test=0, test_rows_left_out=corpus.dropped_as_test,
        window=p.window, unigram_loss=round(s.unigram, 6), total_steps=s.total_steps, lr=s.lr, params=s.params,
        device=str(s.device), precision=s.precision,
        plan={**prepared.plan.as_dict(), "micro_batch": s.micro_batch, "precision": s.precision},
        vocab_size=s.tokenizer.vocab_size, backbone=getattr(s.model, "backbone", s.model).__class__.__name__,
        **({"resumed_from_step": snapshot[PROGRESS]["step"]} if snapshot else {}),
    )


def _fit(run: Run, prepared: PreparedPretrain, config: RunConfig, s: _Setup, should_stop: Callable[[], bool]):
    """Train the MLM; at each evaluation the backbone folder is written to ``checkpoint/``."""
    from clinitui.engine.pretrain.loop import fit_mlm

    corpus, m, p, path, emit = prepared.corpus, config.model, config.pretrain, run.path, run.events.emit
    ckpt_dir = path / "checkpoint"
    data_names = [u.file for u in corpus.files]

    def on_eval(step: int, val_loss: float) -> None:
        ppl = math.exp(min(val_loss, 50.0))
        emit("eval", split="val", step=step, mlm_loss=round(val_loss, 6), perplexity=round(ppl, 3),
             unigram_loss=round(s.unigram, 6))
        marker = {"format": "clinitui-backbone", "format_version": 1, "clinitui_version": __version__,
                  "kind": "hf" if prepared.pretrained else m.backbone,
                  "options": {k: v for k, v in m.backbone_options.items() if k != "init_from"},
                  "pretraining": {"steps": step, "val_mlm_loss": round(val_loss, 6),
                                  "unigram_loss": round(s.unigram, 6), "window": p.window,
                                  "documents": len(corpus.train), "data": data_names,
                                  "test_rows_left_out": corpus.dropped_as_test}}
        if not prepared.pretrained:  # the full options the architecture was built with
            marker["options"] = {k: v for k, v in s.model.backbone.options.model_dump().items() if k != "init_from"}
        save_backbone_folder(ckpt_dir, s.model, s.tokenizer, marker)
        if p.keep_checkpoints:
            kept = path / "checkpoints" / f"step-{step:06d}"
            kept.parent.mkdir(mode=0o700, exist_ok=True)
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(ckpt_dir, kept)
        emit("checkpoint", path=str(ckpt_dir), step=step, metric="mlm_loss", value=round(val_loss, 6))

    return fit_mlm(s.model, s.train_windows, s.val_windows, s.recipe, cfg=config.train, lr=s.lr,
                   total_steps=s.total_steps, eval_every=s.eval_every, micro_batch=s.micro_batch,
                   pad_id=s.tokenizer.pad_id, device=s.device, precision=s.precision, emit=emit, on_eval=on_eval,
                   should_stop=should_stop, save_state=lambda state: save_state(path, state), resume=run.snapshot)


def _finish(run: Run, prepared: PreparedPretrain, config: RunConfig, s: _Setup, state, wall_start: float) -> dict:
    corpus, path = prepared.corpus, run.path
    payload = {
        "kind": "pretrain",
        "run_dir": str(path),
        "checkpoint": str(path / "checkpoint"),
        "val_mlm_loss": round(state.val_loss, 6),
        "perplexity": round(math.exp(min(state.val_loss, 50.0)), 3),
        "unigram_loss": round(s.unigram, 6),  # held-out loss of token frequencies alone
        "steps": state.step,
        "documents": len(corpus.train),
        "val_documents": len(corpus.val),
        "windows": len(s.train_windows),
        "test_rows_left_out": corpus.dropped_as_test,
        "data_summary": corpus.summary(config.pretrain.include_test),
        "train_seconds": round(state.train_seconds, 2),
        "wall_seconds": round(time.perf_counter() - wall_start, 2),
        "real_tokens_per_s": round(state.real_tokens / max(state.train_seconds, 1e-9), 1),
        "params": s.params,
        "device": str(s.device),
    }
    write_private(path / "metrics.json", json.dumps(payload, indent=2))
    run.events.emit("run_finished", kind="pretrain", val_mlm_loss=payload["val_mlm_loss"],
                    perplexity=payload["perplexity"], wall_seconds=payload["wall_seconds"])
    return payload
