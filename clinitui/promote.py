"""``clinitui promote``: put a run's model where a pipeline loads it, atomically, only if it is not worse.

``DEPLOY_DIR`` is a symbolic link to a complete, sealed folder in ``.<name>.versions/`` beside it,
and ``DEPLOY_DIR.previous`` a link to the model it replaced. A promotion builds the new folder
(copied files fsynced, checksums verified, ``promotion.json`` written), then replaces the links by
``rename()``, which the kernel does atomically: a reader of ``DEPLOY_DIR`` finds the old model or the
new one, complete, whenever the promotion is killed (tests/test_promote.py kills it with SIGKILL
after every step). A reader that loads several files should resolve the link once
(``os.path.realpath``): the folder it points to is never changed, only dropped two promotions later.

``--if-better`` scores the candidate and the deployed model on the same labelled notes with the
paired comparison ``eval --compare`` uses (engine/evaluate/assess.compare) and refuses (exit 7,
:class:`NotBetterError`) when the candidate is worse beyond noise on macro-F1 (the upper end of the
paired-bootstrap interval of ΔF1 below 0), or, when the deployed model's threshold was locked by a
``sensitivity:X`` rule, when its sensitivity on these notes falls below min(X, the deployed model's).
Every promotion, refusal and rollback is also a line of ``DEPLOY_DIR.history.jsonl``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Callable

from clinitui.digest import sha256_file
from clinitui.errors import EXIT_NOT_BETTER, ClinituiError, ConfigError

RECORD = "promotion.json"
FORMATS = ("checkpoint", "onnx")


class NotBetterError(ClinituiError):
    """``promote --if-better``: the candidate is worse than the deployed model on the given notes."""

    exit_code = EXIT_NOT_BETTER


def versions_dir(deploy: Path) -> Path:
    return deploy.with_name(f".{deploy.name}.versions")


def previous_link(deploy: Path) -> Path:
    return deploy.with_name(deploy.name + ".previous")


def history_file(deploy: Path) -> Path:
    return deploy.with_name(deploy.name + ".history.jsonl")


def folder_sha256(folder: Path) -> str:
    """One digest of a model folder: of its files' relative paths and contents (promotion.json left out)."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name != RECORD):
        h.update(f"{path.relative_to(folder)}\0{sha256_file(path)}\n".encode())
    return h.hexdigest()


def read_record(deploy: Path) -> dict | None:
    try:
        return json.loads((Path(deploy) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _check_target(deploy: Path) -> None:
    if deploy.exists() and not deploy.is_symlink():
        if deploy.is_dir() and not any(deploy.iterdir()):
            deploy.rmdir()
            return
        raise ConfigError(f"{deploy}: a folder promote did not make; promote into a new path (promote keeps "
                          f"{deploy.name} as a link it can switch atomically)")


def promote(checkpoint: Path, deploy: Path, *, fmt: str = "checkpoint", if_better: bool = False,
            data: Path | None = None, read: dict | None = None, n_boot: int = 1000,
            on_step: Callable[[str], None] = lambda step: None) -> dict:
    """Promote ``checkpoint`` to ``deploy``; returns the promotion record. ``read``: eval's column options.

    ``on_step(name)`` is called after each step (the kill tests stop the process there)."""
    deploy = Path(os.path.abspath(Path(deploy).expanduser()))
    checkpoint = Path(os.path.abspath(checkpoint))
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt}: unknown; choose checkpoint or onnx")
    if if_better and data is None:
        raise ConfigError("--if-better needs --data FILE: the recent labelled notes both models are scored on")
    _check_target(deploy)
    deploy.parent.mkdir(parents=True, exist_ok=True)
    with _lock(deploy):
        comparison = None
        if if_better and deploy.exists():
            comparison = judge(checkpoint, deployed_checkpoint(deploy), data, read or {}, n_boot)
            on_step("compared")
            if comparison["decision"] != "promote":
                _history(deploy, {"event": "refused", "checkpoint": str(checkpoint), "reason": comparison["reason"]})
                raise NotBetterError(f"not promoted: {comparison['reason']}")
        record = _build(checkpoint, deploy, fmt, comparison, on_step)
        _switch(deploy, versions_dir(deploy) / record["version"], on_step)
        _collect(deploy)
        on_step("collected")
        _history(deploy, {"event": "promoted", **{k: record[k] for k in ("version", "run", "sha256", "format")}})
    return record


def rollback(deploy: Path, on_step: Callable[[str], None] = lambda step: None) -> dict:
    """Put ``DEPLOY_DIR.previous`` back as ``DEPLOY_DIR`` (and the replaced one as ``.previous``)."""
    deploy = Path(os.path.abspath(Path(deploy).expanduser()))
    prev = previous_link(deploy)
    if not prev.is_symlink() or not prev.exists():
        raise ConfigError(f"{deploy}: nothing to roll back to (no {prev.name}); it is kept by a promotion that "
                          "replaced a model")
    with _lock(deploy):
        now, before = os.readlink(deploy), os.readlink(prev)
        _relink(deploy, before)
        on_step("switched")
        _relink(prev, now)
        on_step("kept")
        record = read_record(deploy) or {}
        _history(deploy, {"event": "rolled_back", "version": Path(before).name, "run": record.get("run"),
                          "sha256": record.get("sha256")})
    return record


def deployed_checkpoint(deploy: Path) -> Path:
    """The checkpoint folder the deployed model came from: itself, or (ONNX) its source, if still there."""
    record = read_record(deploy) or {}
    if record.get("format", "checkpoint") == "checkpoint":
        return Path(os.path.realpath(deploy))
    source = Path(record.get("checkpoint") or "")
    if not (source / "config.json").is_file():
        raise ConfigError(f"{deploy}: the deployed ONNX export's checkpoint ({source}) is gone, so it cannot be "
                          "scored against; promote without --if-better, or deploy checkpoints")
    return source


def judge(candidate: Path, deployed: Path, data: Path, read: dict, n_boot: int) -> dict:
    """Both models scored on the same notes; ``decision`` is ``promote`` or ``refuse`` with the reason."""
    import numpy as np

    from clinitui.engine.evaluate.assess import compare, postprocess
    from clinitui.engine.inference.apply import score, task_of

    a = score(candidate, data, **read)
    b = score(deployed, data, table=a.table, **read)
    if b.info.label_names != a.info.label_names or task_of(b.info) != task_of(a.info):
        raise ConfigError(f"{deployed}: its labels ({', '.join(b.info.label_names)}) differ from the candidate's; "
                          "a model for other classes cannot replace it")
    probs_a, pred_a = postprocess(a.raw_probs, a.info)
    probs_b, pred_b = postprocess(b.raw_probs, b.info)
    if task_of(a.info).multilabel:
        return _judge_multilabel(a.y, pred_a, pred_b, Path(data).name, n_boot)
    out = compare(a.y, pred_a, probs_a, pred_b, probs_b, a.info.positive_index, n_boot, 0,
                  names=("the candidate", "the deployed model"))
    out["data"] = Path(data).name
    ci = out.get("delta_f1_macro_ci")
    worse = ci[1] < 0 if ci else out["delta_f1_macro"] < 0
    reason = f"on {Path(data).name}, {out['verdict']}"
    rule = ((b.info.raw.get("operating_point") or {}).get("rule") or "")
    pos = a.info.positive_index
    if not worse and rule.startswith("sensitivity:") and pos is not None:
        positives = a.y == pos
        sens_a, sens_b = (float(np.mean(p[positives] == pos)) if positives.any() else 0.0 for p in (pred_a, pred_b))
        floor = min(float(rule.split(":", 1)[1]), sens_b)
        out["sensitivity"] = {"rule": rule, "candidate": sens_a, "deployed": sens_b, "floor": floor}
        if sens_a < floor:
            worse = True
            reason = (f"the candidate's sensitivity on {Path(data).name} is {sens_a:.3f}, below the deployed "
                      f"model's locked floor {floor:.3f} ({rule})")
    out["decision"] = "refuse" if worse else "promote"
    out["reason"] = reason if worse else out["verdict"]
    return out


def _judge_multilabel(y, pred_a, pred_b, data_name: str, n_boot: int) -> dict:
    """The multi-label comparison: micro-F1 (the task's headline) by a paired bootstrap over notes."""
    from clinitui.engine.evaluate.multilabel import micro_verdict, paired_micro_f1

    out = paired_micro_f1(y, pred_a, pred_b, n_boot, 0)
    out["verdict"] = micro_verdict(out, "the candidate", "the deployed model")
    out["data"] = data_name
    ci = out["delta_f1_micro_ci"]
    worse = ci[1] < 0 if ci else out["delta_f1_micro"] < 0
    out["decision"] = "refuse" if worse else "promote"
    out["reason"] = f"on {data_name}, {out['verdict']}" if worse else out["verdict"]
    return out


def _build(checkpoint: Path, deploy: Path, fmt: str, comparison: dict | None, on_step) -> dict:
    """The new version folder, complete and sealed, with its promotion.json; returns the record."""
    checkpoint = Path(checkpoint)
    run_dir = checkpoint.parent if (checkpoint.parent / "run.toml").is_file() else None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    version = f"{stamp}-{(run_dir or checkpoint).name}"
    store = versions_dir(deploy)
    store.mkdir(mode=0o700, exist_ok=True)
    tmp = store / (version + ".tmp")
    try:
        record = _fill(checkpoint, deploy, fmt, tmp, version, run_dir, comparison, on_step)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a refused export, a full disk: nothing half-built stays
        raise
    os.rename(tmp, store / version)
    _fsync(store)
    on_step("sealed")
    return record


def _fill(checkpoint: Path, deploy: Path, fmt: str, tmp: Path, version: str, run_dir: Path | None,
          comparison: dict | None, on_step) -> dict:
    """Copy (or export) the model into ``tmp`` and write its promotion.json; every file fsynced."""
    if fmt == "onnx":
        from clinitui.export.onnx_export import export_onnx

        export_onnx(checkpoint, tmp)
        on_step("exported")
    else:
        tmp.mkdir(mode=0o700)
        for path in sorted(p for p in checkpoint.rglob("*") if p.is_file()):
            target = tmp / path.relative_to(checkpoint)
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            on_step(f"copied {path.relative_to(checkpoint)}")
    record = {"format_name": "clinitui-promotion", "format_version": 1, "version": version, "format": fmt,
              "promoted_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "by": _who(),
              "run": run_dir.name if run_dir else None, "run_dir": str(run_dir) if run_dir else None,
              "checkpoint": str(checkpoint), "checkpoint_sha256": folder_sha256(checkpoint),
              "sha256": folder_sha256(tmp), "metrics": _metrics(run_dir), "comparison": comparison,
              "replaced": _replaced(deploy)}
    if fmt == "checkpoint" and record["sha256"] != record["checkpoint_sha256"]:
        raise ClinituiError(f"{checkpoint}: the copy does not match the checkpoint (changed while copying?); "
                            "nothing was promoted")
    (tmp / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    _seal(tmp)
    on_step("built")
    return record


def _switch(deploy: Path, folder: Path, on_step) -> None:
    """``.previous`` → the current model, then ``DEPLOY_DIR`` → ``folder``: each one atomic rename."""
    target = os.path.relpath(folder, deploy.parent)
    if deploy.is_symlink():
        _relink(previous_link(deploy), os.readlink(deploy))
        on_step("kept")
    _relink(deploy, target)
    on_step("switched")


def _relink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.link-{os.getpid()}")
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _fsync(link.parent)


def _collect(deploy: Path) -> None:
    """Drop the version folders neither link points to, and what killed promotions left behind."""
    keep = {Path(os.path.realpath(p)) for p in (deploy, previous_link(deploy)) if p.is_symlink()}
    for path in versions_dir(deploy).iterdir():
        if path.resolve() not in keep:
            shutil.rmtree(path, ignore_errors=True)
    for stale in deploy.parent.glob(f".{deploy.name}*.link-*"):
        stale.unlink(missing_ok=True)


def _replaced(deploy: Path) -> dict | None:
    record = read_record(deploy) if deploy.exists() else None
    return {k: record.get(k) for k in ("version", "run", "sha256")} if record else None


def _metrics(run_dir: Path | None) -> dict | None:
    """The run's headline figures (test, validation, operating point) from its metrics.json."""
    try:
        payload = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")) if run_dir else None
    except (OSError, ValueError):
        return None
    if not payload:
        return None
    keep = ("f1_macro", "f1_macro_ci", "f1_micro", "f1_micro_ci", "roc_auc", "roc_auc_ci", "accuracy", "n")
    return {"test": {k: v for k, v in (payload.get("metrics") or {}).items() if k in keep},
            "val": {k: v for k, v in (payload.get("val_metrics") or {}).items() if k in keep},
            "operating_point": payload.get("operating_point"), "vs_baseline": payload.get("vs_baseline")}


def _who() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 -- no login name (a container): the uid
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _history(deploy: Path, entry: dict) -> None:
    line = json.dumps({"at": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "by": _who(), **entry})
    with open(history_file(deploy), "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def _seal(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        _fsync(path)
    _fsync(folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _lock:
    """One promotion at a time per DEPLOY_DIR (an flock the kernel frees even after kill -9)."""

    def __init__(self, deploy: Path) -> None:
        self.path = deploy.with_name(f".{deploy.name}.lock")

    def __enter__(self):
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            from clinitui.errors import RunBusyError

            raise RunBusyError(f"{self.path.name[1:-5]}: another promotion is under way; try again when it ends") from None
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)
