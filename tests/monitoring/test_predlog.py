"""The prediction log writes the same rows whether it gets the batch's arrays or lists."""

from __future__ import annotations

import numpy as np
import pytest

from shipyard.monitoring.predlog import PredictionLogger, read_predictions
from shipyard.store.artifacts import ArtifactStore

COLUMNS = ("a", "b", "c")


def _written(tmp_path, requests, *, arrays: bool) -> list[dict]:
    logger = PredictionLogger(ArtifactStore(str(tmp_path / ("arrays" if arrays else "lists"))))
    for i, (rows, labels, proba) in enumerate(requests):
        logger.log(
            "d",
            1,
            "primary",
            f"req-{i}",
            0.001,
            COLUMNS,
            np.asarray(rows, dtype=np.float64) if arrays else rows,
            np.asarray(labels) if arrays else labels,
            (np.asarray(proba) if arrays else proba) if proba is not None else None,
        )
    logger.flush()
    table = read_predictions(logger.artifacts, "d").drop_columns(["at_ms"])
    return table.sort_by([("request_id", "ascending"), ("row", "ascending")]).to_pylist()


@pytest.mark.parametrize("task", ["classifier", "regressor"])
def test_array_views_and_lists_log_identical_rows(tmp_path, task: str) -> None:
    rng = np.random.default_rng(3)
    requests = []
    for size in (1, 3, 1, 2):
        rows = rng.normal(size=(size, 3)).round(6).tolist()
        if task == "classifier":
            proba = rng.dirichlet([1, 1], size=size).tolist()
            labels = [int(p[1] > 0.5) for p in proba]
            requests.append((rows, labels, proba))
        else:
            requests.append((rows, rng.normal(size=size).tolist(), None))
    from_arrays = _written(tmp_path, requests, arrays=True)
    from_lists = _written(tmp_path, requests, arrays=False)
    assert from_arrays == from_lists
    assert len(from_arrays) == 7
    assert [r["row"] for r in from_arrays if r["request_id"] == "req-1"] == [0, 1, 2]
    assert from_arrays[0]["in.a"] == requests[0][0][0][0]
    if task == "regressor":  # Python's str of the float, not Arrow's shorter cast
        assert from_arrays[0]["prediction"] == str(requests[0][1][0])


def test_float_labels_keep_their_python_text(tmp_path) -> None:
    requests = [([[1.0, 2.0, 3.0]], [1.0], None), ([[1.0, 2.0, 3.0]], [1e-05], None)]
    logged = _written(tmp_path, requests, arrays=True)
    assert [r["prediction"] for r in logged] == ["1.0", "1e-05"]
