"""The run configuration: one validated document, written in full to ``run.toml``.

Its tables' dotted paths (``train.epochs``, ``model.freeze`` ...) are the one vocabulary used
by preset files, ``clinitui train --set key=value`` and the TUI. Every field says what it is.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Section):
    path: Optional[str] = Field(None, description="CSV/TSV/JSONL/Parquet file; empty = the built-in demo corpus.")
    text_col: str = Field("text", description="Column holding the note text.")
    label_col: str = Field("label", description="Column holding the class label.")
    split_col: Optional[str] = Field(
        None, description="Optional column with train / dev|val|validation / test per row."
    )
    val_fraction: float = Field(0.1, gt=0.0, lt=0.5, description="Validation share when no split column is given.")
    test_fraction: float = Field(0.1, gt=0.0, lt=0.5, description="Test share when no split column is given.")
    split_seed: int = Field(13, description="Seed of the stratified split (recorded in run.toml).")
    positive_label: Optional[str] = Field(
        None, description="Positive class of a binary task (default: a label named 1/true/yes/positive, else the "
        "minority class)."
    )
    task: Literal["auto", "multiclass", "multilabel"] = Field(
        "auto", description="auto: one label per note, stopped before training when the label column looks like "
        "joined label sets (docs/tasks.md); multiclass: one label per note, every combination a class, no check; "
        "multilabel: a set of labels per note (joined with data.label_sep, or a JSONL list; empty = none applies)."
    )
    label_sep: str = Field("|", min_length=1, description="Multi-label tasks: the separator between a note's labels.")
    demo_size: int = Field(5400, ge=100, description="Number of notes in the built-in demo corpus.")
    dedupe: bool = Field(
        False, description="Drop validation and test notes that duplicate an earlier split exactly or nearly "
        "(TF-IDF cosine >= 0.95) before training (docs/report.md)."
    )
    long_notes: Literal["truncate", "head-tail", "chunk"] = Field(
        "truncate", description="Notes longer than train.max_length tokens: truncate (keep the beginning), head-tail "
        "(a quarter of the window from the beginning, the rest from the end) or chunk (overlapping windows, "
        "pooled per note; docs/long-notes.md)."
    )
    chunk_stride: Optional[int] = Field(
        None, ge=1, description="chunk: tokens between window starts (default: three quarters of the window, "
        "a quarter overlap)."
    )
    max_chunks: int = Field(
        8, ge=1, le=256, description="chunk: most windows per note (the first max_chunks-1 and the last; the "
        "middle beyond them is dropped and counted)."
    )
    head_fraction: float = Field(
        0.25, ge=0.0, le=1.0, description="head-tail: share of the window taken from the note's beginning."
    )
    delimiter: Optional[str] = Field(
        None, description="CSV separator: comma, semicolon, tab or pipe (default: found from the header row)."
    )
    encoding: Optional[str] = Field(
        None, description="Text encoding, e.g. cp1252 (default: UTF-8, else Windows-1252 with a warning)."
    )


class ModelConfig(Section):
    backbone: str = Field(
        "scratch-transformer", description="Registry name, Hugging Face id or local folder of an encoder."
    )
    adapter: str = Field("grn", description="Final layers before the classifier: grn, adapter, lightweight, ...")
    pooling: Literal["cls", "mean", "last"] = Field(
        "mean", description="How token states become one vector: cls (first token), mean, or last (the last real "
        "token: what a decoder LLM reads the whole note with)."
    )
    freeze: Optional[Literal["backbone", "none", "lora"]] = Field(
        None, description="What is frozen: backbone (adapter + head train), none (full fine-tuning) or lora; "
        "default: backbone for pre-trained encoders, none for from-scratch ones."
    )
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout before the linear head.")
    chunk_pooling: Literal["mean", "max", "attention"] = Field(
        "mean", description="--long-notes chunk: how a note's windows become one vector: mean, max or attention "
        "(a learnt score per window)."
    )
    ensemble: Optional[str] = Field(
        "tfidf", description="Blend the network with a second model, weight chosen on validation: tfidf "
        "(the strong TF-IDF + logistic-regression model, saved in the checkpoint) or none (the network alone)."
    )
    backbone_options: dict[str, Any] = Field(
        default_factory=dict, description="Backbone-specific options (see `clinitui models show NAME`)."
    )
    adapter_options: dict[str, Any] = Field(
        default_factory=dict, description="Adapter-specific options (width, rank, dropout ...)."
    )


class TrainConfig(Section):
    epochs: int = Field(4, ge=1, le=1000, description="Maximum number of passes over the training split.")
    min_steps: int = Field(
        300, ge=0, description="When train.epochs is left at its default, a training split of 400+ notes gets more "
        "epochs so that training takes at least this many optimizer steps (at most 3× the epochs; early stopping "
        "still applies; docs/accuracy.md). 0: off."
    )
    lr: Optional[float] = Field(
        None, gt=0.0, le=1.0, description="Peak learning rate of AdamW. Unset (auto): chosen from what trains — "
        "from scratch, a pre-trained encoder fully fine-tuned, LoRA, or a frozen backbone (docs/models.md, "
        "'Learning rates'); the dry-run plan says which, and run.toml records it."
    )
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW weight decay (not applied to biases and norms).")
    warmup_fraction: float = Field(0.06, ge=0.0, lt=1.0, description="Share of steps with linear warm-up.")
    batch_size: int = Field(32, ge=1, description="Effective batch (micro-batch × gradient accumulation).")
    micro_batch: Optional[int] = Field(
        None, ge=1, description="Sequences per forward pass; default: as planned for the budget."
    )
    max_length: int = Field(256, ge=8, le=8192, description="Tokens per note; longer notes are truncated.")
    class_weights: bool = Field(False, description="Weight the loss by inverse class frequency.")
    early_stopping: bool = Field(True, description="Stop when validation macro-F1 stops improving.")
    patience: int = Field(2, ge=1, description="Epochs without improvement before early stopping.")
    grad_clip: float = Field(1.0, ge=0.0, description="Gradient norm clipping (0 = off).")
    pos_weight: Literal["none", "sqrt", "balanced"] = Field(
        "none", description="Multi-label tasks: weight of each label's positive notes in the loss: none, sqrt or "
        "balanced (negatives / positives, capped at 100), for rare labels."
    )
    multilabel_metric: Literal["f1_micro", "f1_macro", "f1_samples"] = Field(
        "f1_micro", description="Multi-label tasks: validation metric for early stopping and the best checkpoint."
    )
    bucket_by_length: bool = Field(True, description="Group notes of similar length into batches (less padding).")
    feature_cache: bool = Field(
        True, description="With a frozen backbone, compute its outputs once and train only the adapter and head "
        "on them each epoch (host memory, bounded; falls back with a warning when they do not fit); kept on disk "
        "in <runs root>/.cache/features and reused by later runs with the same data and backbone."
    )
    eval_batch_size: int = Field(64, ge=1, description="Sequences per evaluation forward pass.")
    max_steps: Optional[int] = Field(None, ge=1, description="Stop after this many optimizer steps (smoke tests).")
    state_every_s: float = Field(
        120.0, ge=0.0, description="Seconds between saves of the resumable training state (also saved each epoch)."
    )
    log_every: int = Field(10, ge=1, description="Optimizer steps between `step` events.")
    seed: int = Field(42, description="Seed for initialisation, dropout and data order.")
    baseline: bool = Field(True, description="Also score TF-IDF + logistic regression on the same split, for comparison.")
    tfidf_refit: bool = Field(
        True, description="Single-label: refit the TF-IDF model on train + validation once its C is chosen; every "
        "choice made on validation (blend weight, temperature, threshold) uses the train-only fit's predictions."
    )
    threads: Optional[int] = Field(None, ge=1, description="CPU threads for torch (default: all cores).")
    threshold_rule: str = Field(
        "auto", description="Binary tasks (and each label of a multi-label task): how the operating threshold is "
        "chosen on validation: auto (the rule that serves the headline macro-F1 / micro-F1), argmax, macro-f1, f1 "
        "(the positive class's F1), youden, sensitivity:0.95, specificity:0.90 or a number (docs/report.md)."
    )
    bootstrap: int = Field(1000, ge=0, le=100000, description="Bootstrap resamples for the test metrics' 95% intervals (0 = none).")


class BudgetConfig(Section):
    name: str = Field("auto", description="Budget preset this section came from.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train: auto picks CUDA if present.")
    memory_bytes: Optional[int] = Field(None, ge=1, description="Memory the run may use (GPU or host); None = all.")
    max_micro_batch: int = Field(64, ge=1, description="Upper bound on sequences per forward pass.")
    max_length: int = Field(512, ge=8, description="Upper bound on tokens per sequence.")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="Autocast precision. GPU: auto = bf16 where supported, else fp16. CPU: fp32 unless bf16 is "
        "asked (bf16 training, fp32 evaluation: faster for wide encoders on CPUs with AVX512-BF16 or AMX; "
        "docs/performance.md)."
    )
    gradient_checkpointing: bool = Field(
        True, description="Allow the planner to recompute activations in backward (slower, much less memory)."
    )
    allow_freeze: bool = Field(
        False, description="If full fine-tuning cannot fit, freeze the backbone instead of refusing the run."
    )
    overhead_bytes: Optional[int] = Field(
        None, ge=0, description="Memory used outside training tensors (CUDA context, libraries, runtime); "
        "default: 450 MiB on CUDA, 600 MiB on CPU."
    )


class PretrainConfig(Section):
    """Masked-language-model pretraining of a backbone (``clinitui pretrain``; docs/pretraining.md)."""

    extra_data: list[str] = Field(
        default_factory=list, description="More files whose text column is added (labels ignored; --data repeated)."
    )
    include_test: bool = Field(
        False, description="Also learn from the rows of the test split (off: test text is never seen)."
    )
    steps: Optional[int] = Field(
        None, ge=1, description="Optimizer steps; default: 12 passes over the windows from scratch, train.epochs "
        "passes for a pre-trained encoder or when --epochs is given (recorded in run.toml)."
    )
    lr: Optional[float] = Field(
        None, gt=0.0, le=1.0, description="Peak learning rate; default 1e-3 from scratch, 5e-5 for a pre-trained "
        "encoder (recorded in run.toml)."
    )
    mask_prob: float = Field(0.15, gt=0.0, lt=1.0, description="Share of tokens (whole words) chosen for prediction.")
    mask_token_fraction: float = Field(0.8, ge=0.0, le=1.0, description="Of the chosen tokens: share replaced by [MASK].")
    random_token_fraction: float = Field(
        0.1, ge=0.0, le=1.0, description="Of the chosen tokens: share replaced by a random token (the rest stay)."
    )
    whole_word: bool = Field(True, description="Mask every piece of a chosen word (where the tokenizer marks words).")
    window: int = Field(128, ge=8, le=8192, description="Tokens per training window cut from each whole document.")
    stride: Optional[int] = Field(
        None, ge=1, description="Tokens between window starts; default: the window (no overlap)."
    )
    val_fraction: float = Field(
        0.05, gt=0.0, lt=0.5, description="Share of documents held out for the validation MLM loss."
    )
    eval_every: Optional[int] = Field(
        None, ge=1, description="Optimizer steps between held-out evaluations; default: about ten per run."
    )
    keep_checkpoints: bool = Field(
        False, description="Also keep the backbone folder of every evaluation in checkpoints/step-N/ "
        "(to compare pretraining lengths)."
    )


class DistConfig(Section):
    """Data-parallel training through torchrun (docs/distributed.md); 1 process = the plain worker."""

    nproc: int = Field(1, ge=1, description="Training processes on this machine (one per GPU; on CPU, cores are "
                       "shared). Above 1 the worker starts under torchrun (`clinitui train --nproc N`).")
    nnodes: int = Field(1, ge=1, description="Machines taking part (start the same command on each).")
    node_rank: int = Field(0, ge=0, description="This machine's rank among the nodes (0 .. nnodes-1).")
    rdzv_endpoint: Optional[str] = Field(
        None, description="host:port where the nodes meet (torchrun rendezvous); required when nnodes > 1."
    )
    max_restarts: int = Field(0, ge=0, description="torchrun restarts of the whole group after a process fails; "
                              "each restart resumes from the last saved state.")
    timeout_s: float = Field(600.0, gt=0.0, description="Seconds a collective may wait for the other processes "
                             "before the run fails (a dead or hung rank never hangs the run).")

    @property
    def world_size(self) -> int:
        return self.nproc * self.nnodes


class TrackingConfig(Section):
    """Where the run is also recorded: MLflow and/or TensorBoard (clinitui/tracking/, docs/tracking.md)."""

    log_to: list[Literal["mlflow", "tensorboard"]] = Field(
        default_factory=list, description="Also record the run in MLflow and/or TensorBoard (`--log-to`, "
        "repeatable); a logging failure is a warning event, never a failed run."
    )
    uri: Optional[str] = Field(
        None, description="MLflow tracking URI: sqlite:///file.db, a folder (file store) or http(s)://server "
        "[default: sqlite mlflow/mlflow.db next to the runs root]."
    )
    experiment: str = Field("clinitui", min_length=1, description="MLflow experiment the runs are recorded in.")
    tensorboard_dir: Optional[str] = Field(
        None, description="TensorBoard log folder; each run writes a sub-folder named after it "
        "[default: tensorboard/ next to the runs root]."
    )
    report: bool = Field(
        True, description="Also attach the HTML report as an artifact when the `report` extra is installed."
    )

    @field_validator("log_to", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """``--set tracking.log_to=mlflow,tensorboard`` as well as a TOML list."""
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


class RunConfig(Section):
    name: Optional[str] = Field(None, description="Experiment preset this run was built from, if any.")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    pretrain: Optional[PretrainConfig] = Field(
        None, description="Set for a pretraining run (`clinitui pretrain`): its checkpoint is a backbone folder."
    )
    dist: DistConfig = Field(default_factory=DistConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
