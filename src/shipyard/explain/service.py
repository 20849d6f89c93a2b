"""Explanation use cases over the store: build a version's explainer, explain rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from shipyard.entities import ModelVersion
from shipyard.errors import InvalidInput
from shipyard.explain import linear, sampled, tree  # noqa: F401 - register the explainers
from shipyard.explain.background import background_for
from shipyard.explain.base import Explainer, explainer_for
from shipyard.explain.result import Explanation
from shipyard.registry import service as registry
from shipyard.registry.loaded import LoadedModel
from shipyard.registry.uri import parse_model_uri
from shipyard.serving.validation import RowValidator
from shipyard.store import Store

CHUNK_ROWS = 200


def build_explainer(
    store: Store, version: ModelVersion, loaded: LoadedModel, method: str | None = None
) -> Explainer:
    """The version's explainer, with its background from the version's reference data."""
    return explainer_for(loaded, background_for(store, version), method)


def input_frame(version: ModelVersion, data: Any) -> pd.DataFrame:
    """Rows (a DataFrame or records) checked against the signature like a request."""
    validator = RowValidator(version.signature)
    if isinstance(data, pd.DataFrame):
        missing = [c for c in validator.columns if c not in data.columns]
        if missing:
            raise InvalidInput(f"the input lacks the model's column(s) {missing}")
        records = data[validator.columns].astype(object).where(data.notna(), None)
        rows = validator.rows_from_records(records.to_dict(orient="records"))
    elif isinstance(data, list):
        rows = validator.rows_from_records(data)
    else:
        raise InvalidInput("rows to explain must be a DataFrame or a list of records")
    return validator.frame(rows)


def explain_version(
    store: Store,
    uri: str,
    data: Any,
    method: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ModelVersion, Explanation]:
    """Load ``uri``, build its explainer and explain ``data`` (offline, this process),
    ``CHUNK_ROWS`` rows at a time, reporting ``progress(done, total)``."""
    version = registry.resolve(store, parse_model_uri(uri))
    loaded = registry.load_version(store, version)
    frame = input_frame(version, data)
    explainer = build_explainer(store, version, loaded, method)
    parts = []
    for start in range(0, len(frame), CHUNK_ROWS):
        parts.append(explainer.explain(frame.iloc[start : start + CHUNK_ROWS]))
        if progress is not None:
            progress(min(start + CHUNK_ROWS, len(frame)), len(frame))
    first = parts[0]
    return version, replace(
        first,
        attributions=np.concatenate([p.attributions for p in parts]),
        output=np.concatenate([p.output for p in parts]),
    )
