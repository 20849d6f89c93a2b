"""The quickstart's step: compile the champion to ONNX and explain a prediction.

The champion (a scikit-learn pipeline) is converted with skl2onnx; the new
version is registered only because it answers like its source on the
reference rows (the parity gate), and its latency report says what it gains.
Without the ``onnx`` extra (a plain ``pip install``) that part is skipped,
saying how to get it. Then one patient's prediction is explained: which
inputs pushed it which way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from shipyard.errors import MissingDependency
from shipyard.sdk.client import Client


@dataclass(frozen=True)
class OptimizeSummary:
    result: Any  # shipyard.optimize.OptimizeResult, or None when skipped (no onnx extra)
    explained: dict[str, Any]
    top: list[tuple[str, float]]
    skipped: str | None = None


def optimize_and_explain(client: Client, model: str, patient: pd.DataFrame) -> OptimizeSummary:
    result, skipped = None, None
    try:
        result = client.optimize(f"models:/{model}@champion")
    except MissingDependency as exc:
        skipped = str(exc)
    explanation = client.explain(f"models:/{model}@champion", patient)
    [row] = explanation.to_rows()
    attributions = row["attributions"]
    if isinstance(next(iter(attributions.values())), dict):  # per class: take the first
        attributions = {k: next(iter(v.values())) for k, v in attributions.items()}
    top = sorted(attributions.items(), key=lambda kv: abs(kv[1]), reverse=True)[:3]
    return OptimizeSummary(result, row, top, skipped)
