"""What the run screen shows, folded from the event stream (pure Python: no Textual, no torch).

``RunState.apply(events)`` is the only way state changes, so a live run, a replayed finished run
and a snapshot test fixture all go through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clinitui.events import FINAL_TYPES
from clinitui.fmt import fmt_bytes, fmt_lr, fmt_metric, fmt_offset, fmt_params
from clinitui.kinds import RunKind, config_kind

LOG_TYPES = ("run_started", "eval", "baseline", "checkpoint", "oom_backoff", "warning", "run_finished", "run_failed",
             "stopped")
MAX_LOG_LINES = 500


@dataclass
class LogLine:
    """One event-log entry: offset from the start, a severity for styling, and plain text."""

    offset: float
    level: str  # info | good | warn | error
    text: str

    def render(self) -> str:
        return f"{fmt_offset(self.offset)} {self.text}"


@dataclass
class RunState:
    """Everything the run screen draws; ``apply`` returns which panels need a redraw."""

    t0: float | None = None
    started: dict = field(default_factory=dict)
    status: str = "created"  # running | finished | failed | stopped | crashed | created
    error: str | None = None
    # (step, value) series for the charts
    loss: list[tuple[int, float]] = field(default_factory=list)
    lr: list[tuple[int, float]] = field(default_factory=list)
    # (seconds since start, bytes) series for the memory panel
    mem_process: list[tuple[float, float]] = field(default_factory=list)  # NVML per-process, or host RSS on CPU
    mem_torch_peak: list[tuple[float, float]] = field(default_factory=list)
    budget_bytes: int | None = None
    device_total_bytes: int | None = None
    mem_source: str = "host RSS"
    evals: list[dict] = field(default_factory=list)  # validation evals, one per epoch
    test_eval: dict | None = None
    baseline: dict | None = None  # TF-IDF + logistic regression on the same test split
    ensemble: dict | None = None  # the blend's `ensemble` event: its weight, each part's val and test F1
    last_step: dict = field(default_factory=dict)
    last_t: float | None = None
    final: dict | None = None
    log: list[LogLine] = field(default_factory=list)
    log_count: int = 0  # lines ever logged (``log`` keeps the newest MAX_LOG_LINES)
    oom_backoffs: int = 0
    micro_batch: int | None = None
    grad_accumulation: int | None = None

    # ---- derived values -------------------------------------------------------------------
    @property
    def config(self) -> dict:
        return self.started.get("config", {})

    @property
    def is_pretrain(self) -> bool:
        """A ``clinitui pretrain`` run: its figures are MLM losses, its product a backbone folder."""
        return self.started.get("kind") == RunKind.PRETRAIN or config_kind(self.config) is RunKind.PRETRAIN

    @property
    def mlm_evals(self) -> list[dict]:
        """Held-out masked-LM evaluations of a pretraining run, in order."""
        return [e for e in self.evals if e.get("mlm_loss") is not None]

    @property
    def labels(self) -> list[str]:
        return list(self.started.get("labels") or [])

    @property
    def total_steps(self) -> int | None:
        return self.last_step.get("total_steps")

    @property
    def step(self) -> int:
        return int(self.last_step.get("step") or 0)

    @property
    def epoch(self) -> int:
        return int(self.last_step.get("epoch") or 0)

    @property
    def epochs(self) -> int | None:
        return self.config.get("train", {}).get("epochs")

    @property
    def elapsed(self) -> float | None:
        if self.t0 is None or self.last_t is None:
            return None
        return self.last_t - self.t0

    @property
    def eta(self) -> float | None:
        """Seconds left at the average pace since the run started (training steps only)."""
        total, step = self.total_steps, self.step
        if self.status != "running" or not total or not step or self.t0 is None:
            return None
        spent = self.last_step.get("t", self.t0) - self.t0
        return max(0.0, spent / step * (total - step))

    @property
    def peak_memory(self) -> float | None:
        values = [v for _, v in self.mem_process] + [v for _, v in self.mem_torch_peak]
        return max(values) if values else None

    @property
    def best_eval(self) -> dict | None:
        scored = [e for e in self.evals if e.get("f1_macro") is not None]
        return max(scored, key=lambda e: e["f1_macro"]) if scored else None

    @property
    def shown_eval(self) -> dict | None:
        """The evaluation whose confusion matrix is shown: test once it exists, else the latest val."""
        return self.test_eval or (self.evals[-1] if self.evals else None)

    # ---- folding ----------------------------------------------------------------------------
    def apply(self, events: list[dict]) -> set[str]:
        """Fold ``events`` in; returns the names of the panels that changed."""
        changed: set[str] = set()
        for event in events:
            changed |= self._apply_one(event)
        return changed

    def _apply_one(self, e: dict) -> set[str]:
        kind = e.get("type")
        t = e.get("t")
        if self.t0 is None and isinstance(t, (int, float)):
            self.t0 = t
        if isinstance(t, (int, float)):
            self.last_t = t
        changed = {"stats"}
        if kind == "run_started":
            self.started = e
            self.t0 = t if isinstance(t, (int, float)) else self.t0
            self.status = "running"
            self.micro_batch = (e.get("plan") or {}).get("micro_batch")
            self.grad_accumulation = (e.get("plan") or {}).get("grad_accumulation")
            changed |= {"header", "metrics"}
        elif kind == "step":
            self.last_step = e
            if e.get("loss") is not None:
                self.loss.append((int(e.get("step", 0)), float(e["loss"])))
            if e.get("lr") is not None:
                self.lr.append((int(e.get("step", 0)), float(e["lr"])))
            changed.add("loss")
        elif kind == "memory":
            self._apply_memory(e)
            changed.add("memory")
        elif kind == "heartbeat":
            return changed
        elif kind == "eval":
            if e.get("split") == "test":
                self.test_eval = e
            else:
                self.evals.append(e)
            changed |= {"metrics", "loss"}
        elif kind == "baseline":
            self.baseline = e
            changed.add("metrics")
        elif kind == "ensemble":
            self.ensemble = e
            changed |= {"metrics", "stats"}
        elif kind == "oom_backoff":
            self.oom_backoffs += 1
            if e.get("phase", "train") == "train":  # an evaluation backoff leaves training's batch alone
                self.micro_batch = e.get("new_micro_batch", self.micro_batch)
                self.grad_accumulation = e.get("grad_accumulation", self.grad_accumulation)
        if kind in FINAL_TYPES:
            self.final = e
            self.status = {"run_finished": "finished", "run_failed": "failed", "stopped": "stopped"}[kind]
            self.error = e.get("message") if kind == "run_failed" else None
            changed.add("header")
        line = describe(e, self)
        if line is not None:
            self.add_log(line)
            changed.add("log")
        return changed

    def _apply_memory(self, e: dict) -> None:
        offset = (e["t"] - self.t0) if self.t0 is not None and "t" in e else 0.0
        process = e.get("nvml_process_bytes")
        if process is None and e.get("torch_reserved_bytes") is not None:
            process, self.mem_source = e["torch_reserved_bytes"], "torch reserved"
        elif process is not None:
            self.mem_source = "NVML process"
        else:
            process, self.mem_source = e.get("host_rss_bytes"), "host RSS"
        if process is not None:
            self.mem_process.append((offset, float(process)))
        if e.get("torch_peak_bytes") is not None:
            self.mem_torch_peak.append((offset, float(e["torch_peak_bytes"])))
        if e.get("budget_bytes"):
            self.budget_bytes = int(e["budget_bytes"])
        if e.get("device_total_bytes"):
            self.device_total_bytes = int(e["device_total_bytes"])

    def add_log(self, line: LogLine) -> None:
        self.log.append(line)
        self.log_count += 1
        if len(self.log) > MAX_LOG_LINES:
            del self.log[: len(self.log) - MAX_LOG_LINES]

    def mark_crashed(self, detail: str | None) -> LogLine:
        """The worker died without a final event (killed, out of host memory, power loss)."""
        self.status = "crashed"
        self.error = detail
        tail = f"; worker.log ends: {detail.splitlines()[-1]}" if detail else ""
        line = LogLine(self.elapsed or 0.0, "error", f"worker is gone without a final event (crashed){tail}")
        self.add_log(line)
        return line


def describe(e: dict, state: RunState) -> LogLine | None:
    """The event-log line for an event, or None for high-rate events (steps, memory, heartbeats)."""
    kind = e.get("type")
    if kind not in LOG_TYPES:
        return None
    offset = (e.get("t", 0) - state.t0) if state.t0 is not None else 0.0
    if kind == "run_started":
        p = e.get("params") or {}
        plan = e.get("plan") or {}
        text = (f"started on {e.get('device', '?')} ({e.get('precision', '?')}): "
                f"{e.get('n_train', '?')}/{e.get('n_val', '?')}/{e.get('n_test', '?')} notes, "
                f"{fmt_params(p.get('trainable'))} of {fmt_params(p.get('total'))} params trainable, "
                f"micro-batch {plan.get('micro_batch', '?')} x {plan.get('grad_accumulation', '?')}")
        if e.get("truncation"):  # --long-notes: notes past the window and the share of tokens dropped
            from clinitui.data.windows import describe as long_notes_line

            text += "; " + long_notes_line(e["truncation"])
        if e.get("epochs_raised"):  # a small training split got more epochs (engine/train/auto_epochs.py)
            from clinitui.engine.train.auto_epochs import describe as epochs_line

            text += "; " + epochs_line(e["epochs_raised"])
        if e.get("lr_auto"):  # train.lr was unset: chosen from what trains (engine/train/auto_lr.py)
            text += f"; learning rate {fmt_lr(e['lr_auto']['value'])} ({e['lr_auto']['why']})"
        return LogLine(offset, "info", text)
    if kind == "eval" and e.get("mlm_loss") is not None:  # a pretraining run (engine/recipes/pretrain.py)
        return LogLine(offset, "info", f"{e.get('split', '?')} step {e.get('step', '?')}: MLM loss "
                                       f"{fmt_metric(e.get('mlm_loss'))} perplexity {fmt_metric(e.get('perplexity'))}")
    if kind == "run_finished" and e.get("kind") == RunKind.PRETRAIN:
        return LogLine(offset, "good", f"finished: held-out MLM loss {fmt_metric(e.get('val_mlm_loss'))}, "
                                       f"perplexity {fmt_metric(e.get('perplexity'))}")
    if kind == "eval":
        return LogLine(offset, "info", f"{e.get('split', '?')} epoch {e.get('epoch', '?')}: "
                                       f"F1 {fmt_metric(e.get('f1_macro'))} acc {fmt_metric(e.get('accuracy'))}")
    if kind == "baseline":
        return LogLine(offset, "info", f"baseline (TF-IDF + logistic regression) {e.get('split', 'test')}: "
                                       f"F1 {fmt_metric(e.get('f1_macro'))} acc {fmt_metric(e.get('accuracy'))}")
    if kind == "checkpoint":
        return LogLine(offset, "good", f"checkpoint saved (epoch {e.get('epoch', '?')}, "
                                       f"{e.get('metric', 'metric')} {fmt_metric(e.get('value'))})")
    if kind == "oom_backoff":
        old, new = e.get("old_micro_batch", "?"), e.get("new_micro_batch", "?")
        if e.get("phase") == "eval":
            return LogLine(offset, "warn", f"out of memory in evaluation: batch {old} -> {new}")
        accum = e.get("grad_accumulation")
        extra = f", accumulation {accum}" if accum else ""
        return LogLine(offset, "warn", f"out of memory: micro-batch {old} -> {new}{extra}, step retried")
    if kind == "warning":
        return LogLine(offset, "warn", f"warning: {e.get('message', '')}")
    if kind == "run_finished":
        return LogLine(offset, "good", f"finished: best epoch {e.get('best_epoch', '?')}, val F1 "
                                       f"{fmt_metric(e.get('best_val_f1_macro'))}, test F1 {fmt_metric(e.get('test_f1_macro'))}")
    if kind == "run_failed":
        return LogLine(offset, "error", f"failed ({e.get('error', 'error')}, {e.get('stage', '?')}): "
                                        f"{e.get('message', '')}")
    if kind == "stopped":
        return LogLine(offset, "warn", f"stopped: {e.get('message', 'on request')}")
    return None


def memory_summary(state: RunState) -> str:
    """``host RSS 612M (peak 733M) of budget 2.0G`` — the memory panel's title line."""
    now = state.mem_process[-1][1] if state.mem_process else None
    budget = f" / budget {fmt_bytes(state.budget_bytes)}" if state.budget_bytes else " / no budget"
    return f"{state.mem_source} {fmt_bytes(now)} (peak {fmt_bytes(state.peak_memory)}){budget}"
