"""Global importance per version: mean |attribution| over a sample of the prediction log.

Computed in the background (``ImportanceRunner``, one process by lease) from what
the deployment actually served, stored as a JSON artifact named by the version tag
``shipyard.importance``, and shown in the model card and beside drift, so a
drifting feature that matters stands out from one that does not.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from shipyard.entities import ModelVersion
from shipyard.errors import InvalidInput, ShipyardError
from shipyard.explain.service import build_explainer, input_frame
from shipyard.monitoring.predlog import read_predictions
from shipyard.monitoring.service import serving_version
from shipyard.registry import service as registry
from shipyard.store import Store
from shipyard.store.leased_loop import LeasedLoop

logger = logging.getLogger(__name__)

IMPORTANCE_TAG = "shipyard.importance"
LEASE = "importance-runner"
DEFAULT_SAMPLE_ROWS = 2000  # MLflow's explainability_nsamples default
#: The sampled method costs ``evaluations`` model calls a row: explain fewer rows with it.
SAMPLED_ROWS = 200


@dataclass(frozen=True)
class Importance:
    """Mean |attribution| per input column of one version, and how it was measured."""

    model: str
    version: int
    deployment: str
    values: dict[str, float]
    rows: int
    available_rows: int
    method: str
    output_space: str
    computed_at: int

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.values.items(), key=lambda kv: -kv[1])

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def logged_inputs(store: Store, deployment: str, version: ModelVersion) -> pd.DataFrame:
    """The version's logged input rows (every arm and process), in signature columns."""
    table = read_predictions(store.artifacts, deployment)
    columns = version.signature.columns
    if table.num_rows == 0 or "version" not in table.column_names:
        return pd.DataFrame(columns=columns)
    missing = [c for c in columns if f"in.{c}" not in table.column_names]
    if missing:
        raise InvalidInput(
            f"the prediction log of {deployment!r} lacks input column(s) {missing} "
            "(dropped or hashed by its log policy)"
        )
    frame = table.select(["version", *(f"in.{c}" for c in columns)]).to_pandas()
    frame = frame[frame["version"] == version.version].drop(columns="version")
    frame.columns = columns
    return frame


def compute_importance(
    store: Store, deployment: str, *, sample_rows: int = DEFAULT_SAMPLE_ROWS, actor: str
) -> Importance:
    """Explain a sample of the serving version's logged rows and store the mean |φ|."""
    version = serving_version(store, deployment)
    logged = logged_inputs(store, deployment, version)
    if logged.empty:
        raise InvalidInput(
            f"deployment {deployment!r} has no logged predictions of {version.uri} yet"
        )
    explainer = build_explainer(store, version, registry.load_version(store, version))
    wanted = min(sample_rows, SAMPLED_ROWS) if explainer.name == "sampled" else sample_rows
    sample = logged.sample(min(wanted, len(logged)), random_state=0)
    frame = input_frame(version, sample)
    sums = np.zeros(len(version.signature.columns))
    space = ""
    for start in range(0, len(frame), 500):
        explanation = explainer.explain(frame.iloc[start : start + 500])
        sums += np.abs(explanation.attributions).mean(axis=2).sum(axis=0)
        space = explanation.output_space
    importance = Importance(
        model=version.name,
        version=version.version,
        deployment=deployment,
        values={c: float(v / len(frame)) for c, v in zip(frame.columns, sums, strict=True)},
        rows=len(frame),
        available_rows=len(logged),
        method=explainer.name,
        output_space=space,
        computed_at=int(time.time() * 1000),
    )
    stored = store.artifacts.put_bytes(json.dumps(importance.to_dict()).encode())
    store.registry.set_version_tag(
        version.name, version.version, IMPORTANCE_TAG, stored.sha256, actor=actor
    )
    return importance


def importance_of(store: Store, version: ModelVersion) -> Importance | None:
    """The stored global importance of a version, if one was computed."""
    sha = version.tags.get(IMPORTANCE_TAG)
    if sha is None:
        return None
    return Importance(**json.loads(store.artifacts.get_bytes(sha)))


class ImportanceRunner(LeasedLoop):
    """Recomputes each deployment's importance every ``interval_s`` while this process leads,
    once its serving version has logged rows (and again when twice as many are logged)."""

    lease = LEASE

    def __init__(
        self,
        store: Store,
        holder: str,
        *,
        interval_s: float = 600.0,
        sample_rows: int = DEFAULT_SAMPLE_ROWS,
        tick_s: float = 5.0,
    ) -> None:
        tick_s = min(tick_s, interval_s)
        super().__init__(store, holder, tick_s=tick_s, lease_ttl_s=max(tick_s * 10, 30.0))
        self.interval_s = interval_s
        self.sample_rows = sample_rows
        self._checked: dict[str, float] = {}

    def work(self) -> None:
        now = time.monotonic()
        for deployment in self.store.deployments.list():
            name = deployment.name
            if now - self._checked.get(name, -1e18) < self.interval_s:
                continue
            self._checked[name] = now
            try:
                self._refresh(name)
            except ShipyardError as exc:
                logger.info("importance of %s not computed: %s", name, exc)

    def _refresh(self, deployment: str) -> None:
        version = serving_version(self.store, deployment)
        stored = importance_of(self.store, version)
        if stored is not None and stored.rows >= self.sample_rows:
            return  # a full sample already; drift, not importance, moves with new traffic
        available = len(logged_inputs(self.store, deployment, version))
        if available and (stored is None or available >= 2 * stored.available_rows):
            compute_importance(
                self.store, deployment, sample_rows=self.sample_rows, actor="importance-runner"
            )
