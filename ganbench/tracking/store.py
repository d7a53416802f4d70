"""The MLflow adapter: every MLflow call lives here.

One parent run per sweep (created by the driver before any trial starts) and one child per trial
(``ganbench.tracking.runs`` owns their lifecycle). Runs are addressed by id through ``MlflowClient``:
no global active run, nothing exported to workers. The default store is an absolute-path sqlite file,
never a path relative to a trial's working directory.
"""

from __future__ import annotations

import contextlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from ganbench.errors import GanbenchError
from ganbench.tracking.record import KIND_TAG, SWEEP_TAG

# MLflow 3's UI opens an experiment on its GenAI overview unless the experiment says it holds model training.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
NOTE_TAG = "mlflow.note.content"  # a run's description in the UI
NOTE_LIMIT = 8000  # MLflow's cap on a tag value
PARAM_LIMIT = 6000  # MLflow caps each param value; larger things go in as artifacts
BATCH_LIMIT = 900   # log_batch takes at most 1000 metrics


def home() -> Path:
    return Path(os.environ.get("GANBENCH_HOME") or "~/.cache/ganbench").expanduser().resolve()


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<abs>/mlflow/mlflow.db`` under ``$GANBENCH_HOME``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home() / 'mlflow' / 'mlflow.db'}"


def is_local(uri: str) -> bool:
    return uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri


def ui_command(uri: str, experiment_id: str = "") -> str:
    """How to look at a store's runs: the runs view of ``experiment_id`` (the sweep's parent with its nested
    trials), which MLflow 3.17 reaches by URL, not by default."""
    page = f"/#/experiments/{experiment_id}/runs?workflowType=machine_learning" if experiment_id else ""
    if is_local(uri):
        return f"mlflow ui --backend-store-uri {uri}" + (f", then open http://127.0.0.1:5000{page}" if page else "")
    return f"open {uri.rstrip('/')}{page}"


def check_server(uri: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, in one line, when no MLflow server answers at ``uri`` (MLflow's own client
    retries a refused connection for minutes before raising)."""

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s):
            pass
    except urllib.error.HTTPError:
        return  # something answers (a proxy, or a server without /health): let MLflow's client judge it
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        raise GanbenchError(f"tracking URI {uri}: no MLflow server answers ({reason}); start one with "
                            "`mlflow server --host HOST --port PORT`, or unset MLFLOW_TRACKING_URI and drop "
                            "--tracking-uri to use the local store") from exc


class Tracker:
    """A thin, picklable handle on one experiment in one store."""

    def __init__(self, uri: str, experiment: str) -> None:
        self.uri, self.experiment = uri, experiment
        self.experiment_id = ""
        # Reports download dozens of small artifacts; one progress bar each drowns what ganbench prints.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    def __getstate__(self) -> dict[str, Any]:
        return {"uri": self.uri, "experiment": self.experiment, "experiment_id": self.experiment_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def client(self) -> MlflowClient:
        if "_client" not in self.__dict__:
            self.__dict__["_client"] = MlflowClient(tracking_uri=self.uri)
        return self.__dict__["_client"]

    def open(self) -> Tracker:
        """Open the store (creating or migrating a sqlite file) and look the experiment up. Creates no
        experiment and no run, so it is safe before a sweep is accepted."""
        creating: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if is_local(self.uri) and self.uri.startswith("sqlite:"):
            database = Path(self.uri.removeprefix("sqlite:///"))
            database.parent.mkdir(parents=True, exist_ok=True)
            # MLflow creates and migrates a sqlite store on first use; two processes doing it at once fail in
            # alembic ("Online migration expected to match one row"). One at a time, then, across processes.
            creating = FileLock(f"{database}.create.lock", timeout=120)
        if self.uri.startswith(("http://", "https://")):
            check_server(self.uri)
        try:
            with creating:
                found = self.client.get_experiment_by_name(self.experiment)
        except MlflowException as exc:
            raise GanbenchError(f"tracking URI {self.uri}: {str(exc).strip().splitlines()[0]}") from exc
        self.experiment_id = found.experiment_id if found is not None else ""
        return self

    def ensure_experiment(self) -> str:
        """The experiment's id, creating the experiment (in the driver, never in trials) if it is new."""
        if not self.experiment_id:
            self.open()
        if not self.experiment_id:
            # With a server, let it assign mlflow-artifacts:; locally, an absolute folder beside the database.
            location = (home() / "mlflow" / "artifacts").as_uri() if is_local(self.uri) else None
            self.experiment_id = self.client.create_experiment(self.experiment, artifact_location=location,
                                                               tags=EXPERIMENT_KIND)
        return self.experiment_id

    def find_run(self, **tags: str) -> str | None:
        query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
        runs = self.client.search_runs([self.experiment_id], filter_string=query, max_results=2)
        return runs[0].info.run_id if runs else None

    def parent_run(self, sweep: str, tags: Mapping[str, str]) -> str:
        run_id = self.find_run(**{SWEEP_TAG: sweep, KIND_TAG: "sweep"})
        if run_id is not None and self.status(run_id) != "RUNNING":  # resumed after a pause or a crash
            self.client.update_run(run_id, status="RUNNING")
        if run_id is None:
            run_id = self.client.create_run(self.experiment_id, run_name=sweep,
                                            tags={SWEEP_TAG: sweep, KIND_TAG: "sweep", **tags}).info.run_id
        return run_id

    def open_existing(self) -> bool:
        """Point at this tracker's experiment if the store holds it (creating nothing); whether it does."""
        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is not None:
            self.experiment_id = experiment.experiment_id
        return experiment is not None

    def sweep_names(self) -> list[str]:
        """The sweeps whose experiments this store holds."""
        return sorted(e.name.removeprefix("ganbench/") for e in self.client.search_experiments()
                      if e.name.startswith("ganbench/"))

    def runs(self) -> list[Any]:
        """Every run of this tracker's experiment (``mlflow.entities.Run``)."""
        return self.client.search_runs([self.experiment_id], max_results=5000)

    @staticmethod
    def is_parent(run: Any, sweep: str) -> bool:
        """Whether ``run`` is the parent run of ``sweep``."""
        return run.data.tags.get(KIND_TAG) == "sweep" and run.data.tags.get(SWEEP_TAG) == sweep

    def artifact_paths(self, run_id: str, folder: str) -> set[str]:
        return {a.path for a in self.client.list_artifacts(run_id, folder)}

    def download(self, run_id: str, path: str, folder: str | Path) -> Path:
        return Path(self.client.download_artifacts(run_id, path, str(folder)))

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """A metric's logged values as (step, value), in step order."""
        return sorted((m.step, m.value) for m in self.client.get_metric_history(run_id, key))

    def tags(self, run_id: str) -> dict[str, str]:
        return dict(self.client.get_run(run_id).data.tags)

    def metrics(self, run_id: str) -> dict[str, float]:
        return dict(self.client.get_run(run_id).data.metrics)

    def last_step(self, run_id: str) -> int:
        metrics = self.client.get_run(run_id).data.metrics
        if "step" not in metrics:
            return -1
        return int(max(m.step for m in self.client.get_metric_history(run_id, "step")))

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        existing = self.client.get_run(run_id).data.params
        fresh = [Param(k, str(v)[:PARAM_LIMIT]) for k, v in params.items() if k not in existing]
        for start in range(0, len(fresh), 90):
            self.client.log_batch(run_id, params=fresh[start:start + 90])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for start in range(0, len(batch), BATCH_LIMIT):
            self.client.log_batch(run_id, metrics=batch[start:start + BATCH_LIMIT])

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_image(self, run_id: str, image: Any, key: str, step: int) -> None:
        self.client.log_image(run_id, image, key=key, step=step)

    def log_artifact(self, run_id: str, path: str | Path, folder: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path=folder)

    def publish(self, run_id: str, folder: Path, note: str) -> None:
        """Put a built report on a run: its files as artifacts under ``report/`` and ``note`` as the run's
        description. Experiments made before the kind tag existed get it here."""
        self.client.log_artifacts(run_id, str(folder), artifact_path="report")
        if len(note) > NOTE_LIMIT:
            tail = "\n\n… (cut to fit MLflow's description; the whole report is in this run's artifacts, report/)"
            note = note[:NOTE_LIMIT - len(tail)] + tail
        self.client.set_tag(run_id, NOTE_TAG, note)
        for key, value in EXPERIMENT_KIND.items():
            self.client.set_experiment_tag(self.experiment_id, key, value)

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def status(self, run_id: str) -> str:
        return self.client.get_run(run_id).info.status
