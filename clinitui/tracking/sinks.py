"""The two places a run can also be recorded: MLflow (``mlflow``) and TensorBoard (``tensorboardX``).

Each library is an optional extra (``pip install 'clinitui[mlflow]'`` / ``'clinitui[tensorboard]'``)
imported only here, inside the sink's constructor: nothing on the CLI's or the engine's start path
imports them. Every method may raise; the caller (listener.py, export.py) turns a failure into one
``warning`` and stops using that sink, so a tracking server that is down never fails a run.

TensorBoard is written with tensorboardX rather than ``torch.utils.tensorboard``: it needs no torch
(``runs export --to tensorboard`` and TF-IDF runs do not load it) and writes the same event files and
hyper-parameter table; ``tensorboard`` itself is only needed to look at them.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from clinitui.errors import ConfigError
from clinitui.tracking.record import Point

BATCH = 900  # MLflow takes at most 1000 metrics (and 100 params or tags) per log_batch call


def redact(uri: str) -> str:
    """``uri`` without a user name or password, for files and screens."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        return urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, parts.query, ""))
    return uri


def _missing(extra: str, package: str) -> ConfigError:
    return ConfigError(f"--log-to {extra} needs the {package} package: pip install 'clinitui[{extra}]'")


class MlflowSink:
    """One MLflow run per clinitui run (a sweep's trials nested under the sweep's run)."""

    name = "mlflow"

    def __init__(self, uri: str, experiment: str) -> None:
        try:
            import logging

            from mlflow.tracking import MlflowClient
        except ImportError:
            raise _missing("mlflow", "mlflow (or mlflow-skinny)") from None
        if urlsplit(uri).scheme in ("http", "https"):  # a server that is down: fail in seconds, not minutes
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        elif urlsplit(uri).scheme in ("", "file"):  # a folder asked for by name: MLflow's file store
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        for noisy in ("mlflow", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.uri, self.experiment = uri, experiment
        self.client = MlflowClient(tracking_uri=uri)
        self.run_id: str | None = None

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(self.experiment, artifact_location=_artifact_root(self.uri))

    def start(self, name: str, params: dict, tags: dict, prior: dict, parent_id: str | None) -> dict:
        """Open the MLflow run (``prior``: this run's earlier record, from its tracking.json); where it is."""
        from mlflow.entities import Param, RunTag

        same = prior.get("uri") == redact(self.uri) and prior.get("experiment") == self.experiment
        resume_id = prior.get("run_id") if same else None
        if resume_id:  # the same MLflow run goes on (a resumed clinitui run)
            self.run_id = resume_id
            self.client.update_run(resume_id, status="RUNNING")
        else:
            extra = {"mlflow.parentRunId": parent_id} if parent_id else {}
            run = self.client.create_run(self._experiment_id(), run_name=name, tags={**tags, **extra})
            self.run_id = run.info.run_id
            items = [Param(k, str(v)) for k, v in params.items()]
            for i in range(0, len(items), 100):
                self.client.log_batch(self.run_id, params=items[i:i + 100], synchronous=True)
        self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()][:100], synchronous=True)
        return {"uri": redact(self.uri), "experiment": self.experiment, "run_id": self.run_id}

    def log(self, points: list[Point]) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(p.key, p.value, int(p.t * 1000), p.step) for p in points]
        for i in range(0, len(metrics), BATCH):
            self.client.log_batch(self.run_id, metrics=metrics[i:i + BATCH], synchronous=True)

    def finish(self, final: dict, tags: dict, files: list[tuple[Path, str]], status: str, step: int, t: float) -> None:
        from mlflow.entities import RunTag

        self.log([Point(k, v, step, t) for k, v in final.items()])
        if tags:
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()], synchronous=True)
        for path, folder in files:
            self.client.log_artifact(self.run_id, str(path), artifact_path=folder or None)
        self.client.set_terminated(self.run_id, status=status)

    def close(self) -> None:
        """Nothing held open (the client opens a connection per call)."""


def _artifact_root(uri: str) -> str | None:
    """Where artifacts go for a local store: beside the SQLite file, or inside the folder; a server decides its own."""
    parts = urlsplit(uri)
    if parts.scheme == "sqlite" and parts.path not in ("", "/:memory:"):
        return str(Path(parts.path[1:] if parts.path.startswith("//") else parts.path).parent / "artifacts")
    return None


class TensorBoardSink:
    """Scalars under the run's own folder of the log directory, and the hyper-parameter plugin's row."""

    name = "tensorboard"

    def __init__(self, logdir: Path) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise _missing("tensorboard", "tensorboardX") from None
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(logdir=str(self.logdir), flush_secs=10)

    def start(self, name: str, params: dict, tags: dict, prior: dict, parent_id: str | None) -> dict:
        self.params = params
        return {"logdir": str(self.logdir)}

    def log(self, points: list[Point]) -> None:
        for p in points:
            self.writer.add_scalar(p.key, p.value, global_step=p.step, walltime=p.t)

    def finish(self, final: dict, tags: dict, files: list[tuple[Path, str]], status: str, step: int, t: float) -> None:
        from tensorboardX.summary import hparams

        self.log([Point(k, v, step, t) for k, v in final.items()])
        headline = {k: v for k, v in final.items() if k.startswith(("test/", "run/val_mlm_loss", "run/perplexity"))
                    and "_ci_" not in k}
        if headline:  # the hparams table: one row per run, its config beside its test figures
            for summary in hparams(dict(self.params), headline):
                self.writer.file_writer.add_summary(summary)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
