"""``shipyard.Client``: the one façade every interface (CLI, server, scripts) calls.

One interface, two back ends. ``Client()`` with ``SHIPYARD_URL`` set (or
``Client(url=..., token=...)``) is remote: every ``@operation`` method is sent
to that server's ``/api/ops`` route and run there by its direct client, with
the caller's token; artifacts move by hash through ``RemoteArtifactStore``.
Otherwise the client is direct: store and artifacts in this process. Methods
that are not operations (``start_run``, ``register_model``, ``load_model``,
``load_dataset``) are written once over operations and ``self.store.artifacts``,
so they work on both.
"""

from __future__ import annotations

import json
import os
import time
import typing
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from shipyard.config import RemoteSettings, StoreSettings, load_settings, user_cache_dir
from shipyard.deploy import rollouts
from shipyard.deploy import service as deploy
from shipyard.deploy.analysis import CheckResult, analyze
from shipyard.deploy.policy import Policy, ServingConfig, single
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.entities import (
    AliasChange,
    DatasetInput,
    Deployment,
    Experiment,
    MetricPoint,
    ModelVersion,
    NewRun,
    RegisteredModel,
    Run,
    RunArtifact,
    RunKeys,
    RunStatus,
)
from shipyard.errors import InvalidInput, NotFound
from shipyard.names import check_alias, check_name
from shipyard.query import parse_filter, parse_order_by
from shipyard.registry import service as registry
from shipyard.registry.loaded import LoadedModel
from shipyard.registry.uri import parse_model_uri
from shipyard.sdk.ab import ABMethods
from shipyard.sdk.access import AccessMethods
from shipyard.sdk.audit import AuditMethods
from shipyard.sdk.batch import BatchMethods
from shipyard.sdk.explain import ExplainMethods
from shipyard.sdk.k8s import KubernetesMethods
from shipyard.sdk.keys import KeyMethods
from shipyard.sdk.operations import operation
from shipyard.sdk.optimize import OptimizeMethods
from shipyard.sdk.packaging import PackagingMethods
from shipyard.sdk.pipelines import PipelineMethods
from shipyard.sdk.run import CURRENT_RUN, ActiveRun
from shipyard.sdk.stream import StreamMethods
from shipyard.security.permissions import Permission as P
from shipyard.store import Store, open_store
from shipyard.store.audit_context import current_audit_context
from shipyard.store.dataset_store import DatasetRecord
from shipyard.store.monitor_store import AlertRecord, MonitorRecord
from shipyard.store.rollout_store import RolloutEventRecord, RolloutRecord
from shipyard.store.webhook_store import redacted_url
from shipyard.tracking.service import check_key, metric_value, param_value, start_run_record
from shipyard.tracking.source import caller_git_commit, caller_source

if TYPE_CHECKING:
    from shipyard.datasets.lineage import Node as LineageNode
    from shipyard.datasets.validation import ValidationReport
    from shipyard.monitoring.drift import DatasetDrift, DriftConfig
    from shipyard.monitoring.monitors import MonitorSpec
    from shipyard.monitoring.quality import QualityResult
    from shipyard.sdk.remote import RemoteBackend


# Monitoring and datasets pull in scipy, scikit-learn's metrics, pyarrow and pandera.
# They are imported on first use so that ``import shipyard`` (every cold load_model,
# every CLI start) does not pay for them.
def _monitoring() -> Any:
    from shipyard.monitoring import service

    return service


def _monitors() -> Any:
    from shipyard.monitoring import monitors

    return monitors


def _report() -> Any:
    from shipyard.monitoring import report

    return report


def _datasets() -> Any:
    from shipyard.datasets import service

    return service


def _validation() -> Any:
    from shipyard.datasets import validation

    return validation


def _cleaning() -> Any:
    from shipyard.datasets import cleaning

    return cleaning


def _dataset_diff() -> Any:
    from shipyard.datasets import diff

    return diff


def _lineage() -> Any:
    from shipyard.datasets import lineage

    return lineage


MAX_SEARCH_RESULTS = 50_000
MAX_SEARCH_OFFSET = 1_000_000_000


def _limit(limit: int | None) -> int | None:
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    return limit


def _offset(offset: int) -> int:
    if offset < 0:
        raise InvalidInput(f"offset must be at least 0, got {offset}")
    return offset


@dataclass(frozen=True)
class RunComparison:
    """Runs side by side: every param and metric key, one value per run (None if unset)."""

    runs: list[Run]
    params: dict[str, list[str | None]]
    metrics: dict[str, list[float | None]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [{"id": r.id, "name": r.name, "status": r.status} for r in self.runs],
            "params": self.params,
            "metrics": self.metrics,
        }


class Client(
    ABMethods,
    PipelineMethods,
    KeyMethods,
    AccessMethods,
    AuditMethods,
    BatchMethods,
    StreamMethods,
    ExplainMethods,
    OptimizeMethods,
    KubernetesMethods,
    PackagingMethods,
):
    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        *,
        settings: StoreSettings | None = None,
        url: str | None = None,
        token: str | None = None,
    ) -> None:
        """Direct on ``home``/``settings``; remote on ``url`` (default ``SHIPYARD_URL``
        when neither a home nor settings is given)."""
        self._remote: RemoteBackend | None = None
        if url is None and home is None and settings is None:
            remote = RemoteSettings()
            url = remote.url
            if token is None and remote.token is not None:
                token = remote.token.get_secret_value()
        if url:
            from shipyard.sdk.remote import RemoteBackend, RemoteStore

            # A remote job keeps nothing but verified downloads, in the user's cache
            # (not a .shipyard folder in whatever directory the job runs in).
            self.settings = settings or load_settings(home or user_cache_dir())
            self._remote = RemoteBackend(url, token, cache_dir=self.settings.cache_dir())
            self.store = typing.cast(Store, RemoteStore(self._remote.artifacts, self.settings))
        else:
            self.settings = settings or load_settings(home)
            self.store = open_store(self.settings)

    @property
    def actor(self) -> str:
        """Who is acting: the authenticated caller when the server runs an operation for
        one (so runs and versions name them, not the server's OS user), else this user."""
        return current_audit_context().actor or self.settings.user

    @property
    def url(self) -> str | None:
        """The server a remote client talks to (None: direct)."""
        return None if self._remote is None else self._remote.url

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
        else:
            self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tracking ------------------------------------------------------------
    def start_run(
        self,
        experiment: str = "default",
        *,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> ActiveRun:
        created = self.create_run(
            experiment,
            name=name,
            params={k: str(v) for k, v in (params or {}).items()},
            tags={k: str(v) for k, v in (tags or {}).items()},
            git_commit=caller_git_commit(),
            source=caller_source(),
        )
        initial = {k: str(v) for k, v in (params or {}).items()}
        return ActiveRun(self, created.id, experiment=experiment, name=created.name, params=initial)

    @operation(P.WRITE_RUNS)
    def create_run(
        self,
        experiment: str = "default",
        *,
        name: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        git_commit: str | None = None,
        source: str | None = None,
    ) -> NewRun:
        """The run row only (``start_run`` wraps it in an ``ActiveRun``)."""
        run_id, run_name = start_run_record(
            self.store,
            experiment=experiment,
            name=name,
            params=params,
            tags=tags,
            actor=self.actor,
            git_commit=git_commit,
            source=source,
        )
        return NewRun(run_id, run_name)

    @operation(P.WRITE_RUNS)
    def end_run(
        self,
        run_id: str,
        *,
        status: str = RunStatus.FINISHED,
        error: str | None = None,
        end_time: int | None = None,
        params: dict[str, str] | None = None,
        metrics: list[MetricPoint] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Close a run, writing what its buffer still held in the same transaction."""
        if status not in RunStatus.ALL:
            raise InvalidInput(f"unknown run status {status!r}; use one of {RunStatus.ALL}")
        self.store.tracking.end_run(
            run_id,
            status=status,
            end_time=end_time if end_time is not None else int(time.time() * 1000),
            error=error,
            actor=self.actor,
            params={check_key(k, "param"): param_value(k, v) for k, v in (params or {}).items()},
            metrics=metrics or (),
            tags={check_key(k, "tag"): str(v) for k, v in (tags or {}).items()},
        )

    @operation(P.WRITE_RUNS)
    def add_run_artifact(self, run_id: str, path: str, sha256: str, size: int) -> RunArtifact:
        """Attach an artifact already stored (by hash) to a run under ``path``."""
        if not self.store.artifacts.exists(sha256):
            raise NotFound(f"no artifact {sha256}; store it before attaching it to a run")
        self.store.tracking.add_artifact(run_id, path, sha256, size)
        return RunArtifact(path, sha256, size)

    @operation(P.WRITE_RUNS)
    def log_input(
        self, run_id: str, dataset: str, version: str | int, digest: str | None = None
    ) -> None:
        """Record a dataset version a run read."""
        self.store.tracking.add_input(run_id, DatasetInput(dataset, str(version), digest))

    @operation(P.READ)
    def get_run(self, run_id: str) -> Run:
        return self.store.tracking.get_run(run_id)

    @operation(P.READ)
    def list_experiments(self) -> list[Experiment]:
        return self.store.tracking.list_experiments()

    @operation(P.READ)
    def get_metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        return self.store.tracking.metric_history(run_id, key)

    @operation(P.READ)
    def search_runs(
        self,
        experiment: str | list[str] | None = None,
        filter: str | None = None,
        order_by: str | list[str] | None = None,
        max_results: int = 100,
        offset: int = 0,
    ) -> list[Run]:
        """Runs matching ``filter`` (e.g. ``metrics.auc > 0.9 and params.C = '1.0'``);
        ``offset`` skips that many of them first (a page of a longer list)."""
        if not 1 <= max_results <= MAX_SEARCH_RESULTS:
            raise InvalidInput(
                f"max_results must be between 1 and {MAX_SEARCH_RESULTS}, got {max_results}"
            )
        if not 0 <= offset <= MAX_SEARCH_OFFSET:
            raise InvalidInput(f"offset must be between 0 and {MAX_SEARCH_OFFSET}, got {offset}")
        experiments = [experiment] if isinstance(experiment, str) else experiment
        return self.store.tracking.search_runs(
            experiments, parse_filter(filter), parse_order_by(order_by), max_results, offset=offset
        )

    @operation(P.READ)
    def run_keys(self, experiment: str | list[str] | None = None) -> RunKeys:
        """The param and metric keys logged to the runs (of ``experiment``), sorted."""
        experiments = [experiment] if isinstance(experiment, str) else experiment
        return self.store.tracking.run_keys(experiments)

    @operation(P.WRITE_RUNS)
    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[MetricPoint | tuple[str, float, int]] = (),
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        """Write many metric points (and params, tags) to a run in one transaction.

        Points are ``MetricPoint``s or ``(key, value, step)`` tuples (timestamped now).
        """
        now = int(time.time() * 1000)
        points = [
            p
            if isinstance(p, MetricPoint)
            else MetricPoint(check_key(p[0], "metric"), metric_value(p[0], p[1]), int(p[2]), now)
            for p in metrics
        ]
        self.store.tracking.log_batch(
            run_id,
            params={check_key(k, "param"): param_value(k, v) for k, v in (params or {}).items()},
            metrics=points,
            tags={check_key(k, "tag"): str(v) for k, v in (tags or {}).items()},
        )

    def compare_runs(self, run_ids: list[str]) -> RunComparison:
        if not run_ids:
            raise InvalidInput("name at least one run to compare")
        runs = [self.get_run(run_id) for run_id in run_ids]
        param_keys = sorted({k for run in runs for k in run.params})
        metric_keys = sorted({k for run in runs for k in run.metrics})
        return RunComparison(
            runs=runs,
            params={k: [run.params.get(k) for run in runs] for k in param_keys},
            metrics={k: [run.metrics.get(k) for run in runs] for k in metric_keys},
        )

    # -- registry --------------------------------------------------------------
    def register_model(
        self,
        model: Any,
        *,
        name: str,
        sample_input: Any = None,
        run_id: str | None = None,
        flavor: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        **flavor_options: Any,
    ) -> ModelVersion:
        """Register ``model`` as the next version of ``name``.

        ``model`` is a model object, or ``runs:/RUN_ID/ARTIFACT`` for a model
        logged with ``run.log_model`` (registered without saving it again).
        ``flavor_options`` go to the flavor, e.g. ``serialization="joblib"``
        (sklearn, trusted objects only), ``artifacts=``/``code_paths=`` (pyfunc);
        ``reference_data=`` (a DataFrame, e.g. the training data) stores the
        reference profile that drift of this version is measured against.
        """
        reference = flavor_options.pop("reference_data", None)
        if isinstance(model, str) and model.startswith("runs:/"):
            version = self.register_logged_model(
                model, name=name, description=description, tags=tags
            )
        else:
            check_name(name)
            packaged = registry.package_model(  # here: a remote client uploads the files
                self.store,
                model,
                sample_input=sample_input,
                flavor=flavor,
                flavor_options=flavor_options,
            )
            version = self.register_package(
                packaged.sha256, name=name, run_id=run_id, description=description, tags=tags
            )
        if reference is not None:
            self.set_reference(name, version.version, reference)
            version = self.get_model_version(name, version.version)
        return version

    @operation(P.REGISTER, model="name")
    def register_package(
        self,
        sha256: str,
        *,
        name: str,
        run_id: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """Register a model tree already in the artifact store (``register_model`` packages
        and uploads it first) as the next version of ``name``."""
        check_name(name)
        packaged = registry.read_package(self.store, sha256)
        if self._serving_untrusted_code(packaged):
            raise InvalidInput(
                f"this {packaged.flavor} model runs code when loaded "
                f"({packaged.options.get('serialization', packaged.flavor)}); a server only "
                "registers such uploads with SHIPYARD_TRUST_UPLOADED_CODE=true"
            )
        run = self.get_run(run_id) if run_id is not None else None
        return registry.register_packaged(
            self.store,
            packaged,
            name=name,
            run=run,
            description=description,
            tags=tags,
            actor=self.actor,
        )

    def _serving_untrusted_code(self, packaged: registry.PackagedModel) -> bool:
        """Whether a package arriving through a server would run its author's code there."""
        context = current_audit_context()
        if context.actor is None or self.settings.trust_uploaded_code:
            return False  # a local call: the caller owns this machine already
        return registry.runs_code(self.store, packaged)

    @operation(P.REGISTER, model="name")
    def register_logged_model(
        self,
        uri: str,
        *,
        name: str,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """Register a model a run logged (``runs:/ID/ARTIFACT``) without storing it again."""
        return registry.register_logged(
            self.store, uri, name=name, description=description, tags=tags, actor=self.actor
        )

    @operation(P.REGISTER, model="name", uploads=("path", "sample_input"))
    def import_mlflow_model(
        self,
        path: str | os.PathLike[str],
        *,
        name: str,
        sample_input: Any = None,
        trust: bool = False,
    ) -> ModelVersion:
        """Register an MLflow model folder; ``trust=True`` allows one that runs code when
        loaded (pickle/cloudpickle, loader modules): only for models you produced."""
        through_server = current_audit_context().actor is not None
        if trust and through_server and not self.settings.trust_uploaded_code:
            raise InvalidInput(
                "trust=True through a server would run the uploader's code there; the "
                "server allows it only with SHIPYARD_TRUST_UPLOADED_CODE=true"
            )
        return registry.import_mlflow_model(
            self.store,
            Path(path),
            name=name,
            sample_input=sample_input,
            trust=trust,
            actor=self.actor,
        )

    @operation(P.READ, model="name")
    def get_model(self, name: str) -> RegisteredModel:
        return self.store.registry.get_model(name)

    @operation(P.READ)
    def list_models(self, *, limit: int | None = None, offset: int = 0) -> list[RegisteredModel]:
        """Models by name (``limit``/``offset``: one page of them)."""
        return self.store.registry.list_models(limit=_limit(limit), offset=_offset(offset))

    @operation(P.READ, model="name")
    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        if isinstance(version, str):
            if version == "latest":
                return self.store.registry.get_version(name)
            if not version.isdigit():
                raise InvalidInput(
                    f"version must be a positive integer or 'latest', got {version!r}"
                )
        return self.store.registry.get_version(name, version=int(version))

    @operation(P.READ, model="name")
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.registry.get_version(name, alias=alias)

    @operation(P.READ, model="name")
    def list_model_versions(
        self, name: str, *, limit: int | None = None, offset: int = 0, newest_first: bool = False
    ) -> list[ModelVersion]:
        """The model's versions, oldest first (``newest_first``, ``limit``/``offset``: one
        page of them, newest first)."""
        return self.store.registry.list_versions(
            name, limit=_limit(limit), offset=_offset(offset), newest_first=newest_first
        )

    @operation(P.READ, model="name")
    def version_metrics(self, name: str) -> list[tuple[int, dict[str, float]]]:
        """Each version's number and registered metrics, oldest first (for comparing
        versions without loading their signatures and cards)."""
        return self.store.registry.version_metrics(name)

    @operation(P.READ)
    def run_model_versions(self, run_id: str) -> list[ModelVersion]:
        """The model versions registered from the run ``run_id``."""
        return self.store.registry.versions_of_run(run_id)

    @operation(P.READ)
    def resolve_model_uri(self, uri: str) -> ModelVersion:
        return registry.resolve(self.store, parse_model_uri(uri))

    @operation(P.REGISTER, model="name", in_path=("alias",))
    def set_alias(self, name: str, alias: str, version: int) -> int | None:
        """Point ``alias`` at ``version``; returns the version it pointed at before, if any."""
        check_alias(alias)
        return self.store.registry.set_alias(name, alias, int(version), actor=self.actor)

    @operation(P.REGISTER, model="name", in_path=("alias",))
    def delete_alias(self, name: str, alias: str) -> int:
        return self.store.registry.delete_alias(name, alias, actor=self.actor)

    @operation(P.READ, model="name")
    def alias_history(
        self, name: str, alias: str | None = None, *, limit: int | None = None
    ) -> list[AliasChange]:
        """Alias changes, oldest first (``limit``: only the newest ones)."""
        return self.store.registry.alias_history(name, alias, limit=_limit(limit))

    @operation(P.REGISTER, model="name")
    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self.store.registry.set_model_tag(name, key, str(value), actor=self.actor)

    @operation(P.REGISTER, model="name")
    def set_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        self.store.registry.set_version_tag(name, int(version), key, str(value), actor=self.actor)

    @operation(P.REGISTER, model="name")
    def set_description(self, name: str, description: str, *, version: int | None = None) -> None:
        check_name(name)
        self.store.registry.set_description(name, description, version=version, actor=self.actor)

    def load_model(self, uri: str) -> LoadedModel:
        """Load ``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` or ``models:/NAME/latest``."""
        return registry.load_version(self.store, self.resolve_model_uri(uri))

    # -- deployments ----------------------------------------------------------------
    @operation(P.DEPLOY, deployment="name")
    def create_deployment(
        self, name: str, model: str, *, description: str = "", serving: ServingConfig | None = None
    ) -> Deployment:
        """A deployment serving ``model`` (``fraud@champion``, ``fraud/3``, ``fraud``)."""
        return deploy.create_deployment(
            self.store,
            name,
            single(model),
            serving or ServingConfig(),
            description=description,
            actor=self.actor,
        )

    @operation(P.DEPLOY, deployment="name")
    def update_deployment(
        self,
        name: str,
        *,
        model: str | None = None,
        serving: ServingConfig | None = None,
        description: str | None = None,
    ) -> Deployment:
        return deploy.update_deployment(
            self.store,
            name,
            policy=single(model) if model else None,
            config=serving,
            description=description,
            actor=self.actor,
        )

    @operation(P.READ, deployment="name")
    def get_deployment(self, name: str) -> Deployment:
        return self.store.deployments.get(name)

    @operation(P.READ)
    def list_deployments(self) -> list[Deployment]:
        return self.store.deployments.list()

    @operation(P.DEPLOY, deployment="name")
    def delete_deployment(self, name: str) -> None:
        self.store.deployments.delete(name, actor=self.actor)

    @operation(P.DEPLOY, deployment="name")
    def set_policy(self, name: str, policy: Policy) -> Deployment:
        """Replace a deployment's traffic policy (canary, A/B, shadow, blue-green, single)."""
        return deploy.update_deployment(self.store, name, policy=policy, actor=self.actor)

    @operation(P.DEPLOY, deployment="name")
    def set_deployment_expectations(self, name: str, dataset: str | None) -> Deployment:
        """Validate serving input against ``dataset``'s expectations too (None: stop)."""
        if dataset is not None and self.store.datasets.expectations(dataset) is None:
            raise NotFound(f"dataset {dataset!r} has no expectations; set them first")
        config = dict(self.get_deployment(name).config)
        config["expectations"] = dataset
        return self.store.deployments.update(name, config=config, actor=self.actor)

    @operation(P.DEPLOY, deployment="name")
    def switch_deployment(self, name: str) -> Deployment:
        """Blue-green: send all traffic to the other version, atomically."""
        return deploy.switch_blue_green(self.store, name, actor=self.actor)

    # -- rollouts ----------------------------------------------------------------
    @operation(P.DEPLOY, deployment="deployment")
    def start_rollout(self, deployment: str, spec: RolloutSpec) -> RolloutRecord:
        return rollouts.start_rollout(self.store, deployment, spec, actor=self.actor)

    @operation(P.READ, deployment="deployment")
    def rollout(self, deployment: str) -> RolloutRecord:
        """The deployment's latest rollout (running or finished)."""
        latest = self.store.rollouts.latest_for(deployment)
        if latest is None:
            self.store.deployments.get(deployment)  # unknown deployment -> not found
            raise NotFound(f"deployment {deployment!r} has no rollout")
        return latest

    @operation(P.READ)
    def rollout_events(self, rollout_id: int) -> list[RolloutEventRecord]:
        return self.store.rollouts.events(rollout_id)

    @operation(P.READ, deployment="deployment")
    def rollout_checks(self, deployment: str) -> list[CheckResult]:
        """The analysis of the current step, as the controller would see it now."""
        current = self.rollout(deployment)
        spec = RolloutSpec.from_dict(current.spec)
        return analyze(
            self.store,
            deployment,
            current.baseline_version,
            current.candidate_version,
            current.step_started_at,
            spec.thresholds,
        )

    @operation(P.DEPLOY, deployment="deployment")
    def pause_rollout(self, deployment: str) -> RolloutRecord:
        return rollouts.set_paused(self.store, self.rollout(deployment), True, actor=self.actor)

    @operation(P.DEPLOY, deployment="deployment")
    def resume_rollout(self, deployment: str) -> RolloutRecord:
        return rollouts.set_paused(self.store, self.rollout(deployment), False, actor=self.actor)

    @operation(P.DEPLOY, deployment="deployment")
    def promote_rollout(self, deployment: str) -> RolloutRecord:
        return rollouts.promote(
            self.store, self.rollout(deployment), actor=self.actor, reason="promoted by hand"
        )

    @operation(P.DEPLOY, deployment="deployment")
    def abort_rollout(self, deployment: str) -> RolloutRecord:
        return rollouts.rollback(
            self.store,
            self.rollout(deployment),
            actor=self.actor,
            reason="aborted by hand",
            status="aborted",
        )

    # -- monitoring -------------------------------------------------------------------
    @operation(P.FEEDBACK, deployment="deployment")
    def add_feedback(self, deployment: str, items: list[dict[str, Any]]) -> int:
        """Ground truth and business outcomes for served predictions:
        ``[{"request_id": ..., "label": ..., "outcome": {"clicked": 1}}]`` (either or both;
        a later item for the same row merges in)."""
        return _monitoring().add_feedback(self.store, deployment, items)

    @operation(P.FEEDBACK, deployment="deployment", uploads=("path",))
    def upload_feedback(
        self, deployment: str, path: str | os.PathLike[str], *, outcomes: Sequence[str] = ()
    ) -> int:
        """Feedback from a CSV or Parquet file: request_id (and row), a label column and/or
        outcome columns (every ``outcome.<name>`` column and those named in ``outcomes``)."""
        return _monitoring().upload_feedback(self.store, deployment, Path(path), outcomes)

    @operation(P.REGISTER, model="name", uploads=("data",))
    def set_reference(self, name: str, version: int, data: Any) -> str:
        """Profile ``data`` as the reference that drift of this version is measured against."""
        found = self.get_model_version(name, version)
        return _monitoring().set_reference(self.store, found, data, actor=self.actor)

    @operation(P.READ_PREDICTIONS, deployment="deployment")
    def predictions(self, deployment: str, *, window_s: float | None = None) -> Any:
        """Logged predictions (with any feedback labels) as a DataFrame."""
        return _monitoring().window_frame(self.store, deployment, window_s)

    @operation(P.READ_PREDICTIONS, deployment="deployment")
    def drift(
        self, deployment: str, *, window_s: float | None = None, config: DriftConfig | None = None
    ) -> DatasetDrift:
        return _monitoring().drift(self.store, deployment, window_s, config)

    @operation(P.READ_PREDICTIONS, deployment="deployment")
    def model_quality(
        self, deployment: str, *, window_s: float | None = None, by: str | None = None
    ) -> list[QualityResult]:
        return _monitoring().quality(self.store, deployment, window_s, by)

    @operation(P.DEPLOY)
    def create_monitor(self, name: str, spec: MonitorSpec | dict[str, Any]) -> MonitorRecord:
        """A monitor over a deployment: window, schedule and alert rules."""
        check_name(name, "monitor")
        spec_type = _monitors().MonitorSpec
        parsed = spec if isinstance(spec, spec_type) else spec_type.from_dict(spec)
        self.store.deployments.get(parsed.deployment)
        return self.store.monitors.create(
            name, parsed.deployment, parsed.to_dict(), actor=self.actor
        )

    @operation(P.READ)
    def list_monitors(self) -> list[MonitorRecord]:
        return self.store.monitors.all()

    @operation(P.DEPLOY)
    def delete_monitor(self, name: str) -> None:
        self.store.monitors.delete(name, actor=self.actor)

    @operation(P.DEPLOY)
    def run_monitor(self, name: str) -> dict[str, float | None]:
        """Evaluate a monitor now (the server also runs it on its schedule)."""
        return _monitors().run_monitor(self.store, name)

    @operation(P.READ)
    def monitor_results(
        self, name: str, metric: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        self.store.monitors.get(name)
        return self.store.monitors.results(name, metric, limit)

    @operation(P.READ_PREDICTIONS, deployment="deployment")
    def monitor_report(self, deployment: str, *, window_s: float | None = None) -> dict[str, Any]:
        """Drift, distributions and quality of a window as data (see report.render_html)."""
        return _report().build_report(self.store, deployment, window_s)

    @operation(P.READ)
    def alerts(self, monitor: str | None = None, *, open_only: bool = False) -> list[AlertRecord]:
        return self.store.monitors.alerts(monitor, open_only=open_only)

    # -- datasets -------------------------------------------------------------------
    @operation(P.WRITE_RUNS, uploads=("source",))
    def add_dataset(self, name: str, source: Any) -> DatasetRecord:
        """A new version from a CSV/Parquet file, a folder of them, or a DataFrame.

        Content already stored under ``name`` returns that version instead.
        """
        record, _ = _datasets().add_dataset(self.store, name, source, actor=self.actor)
        return record

    @operation(P.READ)
    def get_dataset(self, name: str, version: int | None = None) -> DatasetRecord:
        return self.store.datasets.get(name, version)

    @operation(P.READ)
    def list_datasets(
        self,
        name: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[DatasetRecord]:
        """Dataset versions by name and number (``limit``/``offset``: one page of them)."""
        return self.store.datasets.versions(
            name, limit=_limit(limit), offset=_offset(offset), newest_first=newest_first
        )

    @operation(P.READ)
    def latest_datasets(
        self, *, limit: int | None = None, offset: int = 0
    ) -> list[tuple[DatasetRecord, int]]:
        """Each dataset's newest version with its number of versions, by name."""
        return self.store.datasets.latest(limit=_limit(limit), offset=_offset(offset))

    @operation(P.READ)
    def dataset_profile(self, name: str, version: int | None = None) -> dict[str, Any]:
        """The version's stored profile: per column, its distribution (quantiles, mean and
        spread for numbers; level counts for categories), the reference drift compares to."""
        record = self.store.datasets.get(name, version)
        return dict(json.loads(self.store.artifacts.get_bytes(record.profile_sha256)))

    def load_dataset(self, uri: str, *, columns: list[str] | None = None) -> Any:
        """``datasets:/NAME/VERSION`` (or ``@latest``) as a DataFrame, hash-verified.

        Inside ``with start_run(...)`` the version is recorded as the run's input.
        """
        record = self.resolve_dataset(uri)
        frame = _datasets().read_table(self.store, record, columns).to_pandas()
        run = CURRENT_RUN.get()
        if run is not None:
            run.log_input(record.name, record.version, record.sha256)
        return frame

    def dataset_batches(self, uri: str, batch_size: int = 100_000) -> Any:
        """Chunks of a large version as DataFrames (verified before reading)."""
        return _datasets().iter_batches(self.store, self.resolve_dataset(uri), batch_size)

    @operation(P.READ)
    def resolve_dataset(self, uri: str) -> DatasetRecord:
        """The version ``datasets:/NAME/VERSION`` (or ``@latest``) names."""
        return _datasets().resolve(self.store, uri)

    @operation(P.WRITE_RUNS)
    def clean_dataset(self, name: str, version: int, strategies: dict[str, Any]) -> DatasetRecord:
        """A new version with declared imputation (``{"amount": "median", ...}``) applied;
        the fill values are recorded with it (replay them with ``apply_cleaning``)."""
        frame = self.load_dataset(f"datasets:/{name}/{version}")
        values = _cleaning().fill_values(frame, strategies)
        derived = {"from": version, "cleaning": strategies, "fill_values": values}
        cleaned = _cleaning().apply_cleaning(frame, derived)
        record, _ = _datasets().add_dataset(
            self.store, name, cleaned, actor=self.actor, derived=derived
        )
        return record

    @operation(P.READ)
    def diff_datasets(self, name: str, old: int, new: int) -> dict[str, Any]:
        return _dataset_diff().diff(self.store, name, old, new)

    @operation(P.READ)
    def expectations(self, name: str, *, infer_from: int | None = None) -> dict[str, Any]:
        """The dataset's expectations, or ones inferred from a version."""
        stored = None if infer_from is not None else self.store.datasets.expectations(name)
        if stored is not None:
            return stored
        record = self.store.datasets.get(name, infer_from)
        return _validation().infer_expectations(record.schema)

    @operation(P.WRITE_RUNS)
    def set_expectations(self, name: str, spec: dict[str, Any]) -> None:
        _validation().compile_schema(spec)  # refuse a spec that does not compile
        self.store.datasets.get(name)
        self.store.datasets.set_expectations(name, spec, actor=self.actor)

    @operation(P.READ, uploads=("source",))
    def validate_dataset(self, name: str, source: Any) -> ValidationReport:
        """Check data (a path or DataFrame) against the dataset's expectations."""
        frame = source if isinstance(source, pd.DataFrame) else _datasets().read_source(source)
        return _validation().validate_frame(frame, self.expectations(name))

    @operation(P.READ)
    def lineage(self, uri: str) -> LineageNode:
        return _lineage().lineage(self.store, uri)

    # -- webhooks -----------------------------------------------------------------
    @operation(P.MANAGE_WEBHOOKS)
    def add_webhook(self, url: str, events: list[str] | None = None) -> int:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"webhook URL must start with http:// or https://, got {url!r}")
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018 - parsing the port is the check (0..65535)
        except ValueError as exc:
            raise InvalidInput(f"webhook URL {url!r} is not a valid URL: {exc}") from exc
        if not parts.hostname:
            raise InvalidInput(f"webhook URL {url!r} names no host")
        return self.store.webhooks.add(url, events or ["*"], actor=self.actor)

    @operation(P.MANAGE_WEBHOOKS)
    def list_webhooks(self) -> list[tuple[int, str, list[str]]]:
        """(id, URL, events), the URL shown as scheme and host only: webhook URLs often
        carry their secret (Slack's ``/services/.../token``), and lists are not the place
        to hand it out again. The dispatcher reads the full URL from the store."""
        return [(i, redacted_url(u), e) for i, u, e in self.store.webhooks.list()]

    @operation(P.MANAGE_WEBHOOKS)
    def remove_webhook(self, webhook_id: int) -> None:
        self.store.webhooks.remove(webhook_id, actor=self.actor)

    # -- audit -------------------------------------------------------------------
    def audit_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit rows as dicts (see ``audit_log`` for filters)."""
        return [entry.to_dict() for entry in self.audit_log(limit=limit)]
