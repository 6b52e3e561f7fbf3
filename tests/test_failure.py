"""engine/recipes/failure.py: the one way every kind of run records how it ended badly."""

from __future__ import annotations

import json

import pytest
import torch

from clinitui.config.schema import RunConfig
from clinitui.engine.recipes.failure import record_failure
from clinitui.errors import ConfigError, OutOfMemoryError, StopRequested
from clinitui.events import EventWriter, read_events


def _ended(tmp_path, exc, **kw):
    events = EventWriter(tmp_path / "events.jsonl")
    try:
        raise exc
    except BaseException as caught:
        out = record_failure(events, caught, "training", log_dir=tmp_path, oom_advice="lower it", **kw)
    events.close()
    return out, read_events(tmp_path)[-1]


def test_stop_and_project_errors_are_recorded_and_raised_as_is(tmp_path):
    stop = StopRequested("stop requested")
    out, last = _ended(tmp_path, stop)
    assert out is stop and (last["type"], last["stage"]) == ("stopped", "training")
    bad = ConfigError("bad thing; fix it")
    out, last = _ended(tmp_path, bad)
    assert out is bad and (last["type"], last["message"], last["exit_code"]) == ("run_failed", "bad thing; fix it", 2)


def test_cuda_oom_becomes_the_project_error_without_chaining(tmp_path):
    out, last = _ended(tmp_path, torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert isinstance(out, OutOfMemoryError) and out.__suppress_context__ and out.__cause__ is None
    assert str(out) == "out of GPU memory in training; lower it"
    assert (last["error"], last["exit_code"]) == ("OutOfMemoryError", 3)


def test_a_bug_names_its_type_never_its_message(tmp_path):
    bug = ValueError("patient has pneumonia")  # an exception's arguments may quote a note
    out, last = _ended(tmp_path, bug)
    assert out is bug and last == {**last, "type": "run_failed", "error": "ValueError",
                                   "message": "internal error in training (ValueError)"}
    log = (tmp_path / "worker.log").read_text()
    assert "internal error: ValueError" in log and "pneumonia" not in log
    assert "pneumonia" not in (tmp_path / "events.jsonl").read_text()


def test_tfidf_run_failure_goes_through_the_helper(tmp_path, monkeypatch):
    from clinitui.engine.recipes.dispatch import recipe_for
    from clinitui.engine.tfidf import load as tfidf

    def broken(*a, **k):
        raise RuntimeError("quoting a note")

    monkeypatch.setattr(tfidf, "fit_on_dataset", broken)
    config = RunConfig.model_validate({"data": {"demo_size": 120}, "model": {"backbone": "tfidf"},
                                       "budget": {"device": "cpu"}})
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    recipe = recipe_for(config)
    with pytest.raises(RuntimeError):
        recipe.execute(recipe.prepare(config), run)
    last = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
    assert (last["type"], last["stage"], last["message"]) == ("run_failed", "training",
                                                              "internal error in training (RuntimeError)")
    assert "internal error: RuntimeError" in (run / "worker.log").read_text()
