"""The run state folded from events: what every screen draws (no Textual, no worker)."""

from __future__ import annotations

from clinitui.events import parse_lines
from clinitui.fmt import fmt_bytes, fmt_duration, fmt_offset, short_run_name
from clinitui.tui.state import RunState
from tui_canned import T0, build_events


def fold(kind: str) -> RunState:
    state = RunState()
    state.apply(build_events(kind))
    return state


def test_running_run_has_progress_and_eta():
    state = fold("running")
    assert state.status == "running" and state.final is None
    assert state.step == 34 and state.total_steps == 60 and state.epoch == 2
    assert [s for s, _ in state.loss] == list(range(2, 35, 2))
    assert state.eta == 34 * 1.5 / 34 * (60 - 34)  # average pace since the start
    assert state.mem_source == "NVML process" and state.budget_bytes == 2 << 30


def test_finished_run_keeps_test_eval_and_baseline_apart_from_val():
    state = fold("finished")
    assert state.status == "finished" and state.eta is None
    assert [e["epoch"] for e in state.evals] == [1, 2, 3]
    assert state.test_eval["split"] == "test" and state.baseline["f1_macro"] == 0.78
    assert state.best_eval["epoch"] == 3 and state.shown_eval is state.test_eval
    assert state.log[-1].text.startswith("finished")


def test_oom_backoff_changes_micro_batch_and_is_logged():
    state = fold("oom")
    assert state.oom_backoffs == 1 and state.micro_batch == 2 and state.grad_accumulation == 16
    assert any(line.level == "warn" and "micro-batch 4 -> 2" in line.text for line in state.log)


def test_failed_run_shows_its_message_and_crash_is_marked():
    failed = fold("failed")
    assert failed.status == "failed" and "NaN" in failed.error
    crashed = fold("crashed")
    assert crashed.status == "running"  # the file alone cannot tell: the follower decides
    crashed.mark_crashed("epoch 2\nKilled")
    assert crashed.status == "crashed" and crashed.eta is None and "Killed" in crashed.log[-1].text


def test_cpu_run_plots_host_memory_without_budget():
    state = fold("cpu")
    assert state.mem_source == "host RSS" and state.budget_bytes is None and state.mem_torch_peak == []


def test_unknown_events_and_torn_lines_are_tolerated():
    text = '{"v":1,"t":1,"type":"run_started","config":{}}\n{"v":1,"t":2,"type":"from_the_future"}\n{"v":1,"t":3,"ty'
    state = RunState()
    changed = state.apply(parse_lines(text))
    assert state.status == "running" and "stats" in changed


def test_log_is_bounded_and_counts_every_line():
    state = RunState()
    events = [{"type": "warning", "t": T0 + i, "message": f"w{i}"} for i in range(700)]
    state.apply(events)
    assert len(state.log) == 500 and state.log_count == 700 and state.log[-1].text.endswith("w699")


def test_formatting():
    assert fmt_bytes(2 << 30) == "2.0G" and fmt_bytes(None) == "-" and fmt_bytes(612 << 20) == "612M"
    assert fmt_duration(42) == "42s" and fmt_duration(185) == "3m05s" and fmt_duration(7620) == "2h07m"
    assert fmt_offset(65.9) == "+01:05"
    assert short_run_name("20261123-052636-scratch-transformer-grn") == "11-23 05:26"


def test_raised_epochs_are_said_in_the_started_line():
    from clinitui.tui.state import describe

    started = {"type": "run_started", "t": T0, "device": "cpu", "n_train": 1065, "n_val": 708, "n_test": 745,
               "epochs_raised": {"from": 4, "to": 9, "train_notes": 1065, "min_steps": 300, "steps_per_epoch": 34}}
    line = describe(started, RunState())
    assert line is not None and "epochs 4 → 9: 1,065 training notes give 34 optimizer steps an epoch" in line.text
    assert "epochs 4" not in describe(dict(started, epochs_raised=None), RunState()).text
