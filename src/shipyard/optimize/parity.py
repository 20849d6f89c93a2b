"""The parity gate: the converted model must answer like its source, row by row.

Both run on the same float64 rows (the source as it is served, the ONNX
graph fed exactly as serving feeds it). Classifiers compare probabilities and
the label the server would answer (argmax of the probabilities); regressors
compare predictions. A conversion passes when the largest absolute
difference is at most ``max_diff`` and no label flips. A row whose source
probabilities tie for first place (within ``max_diff``) has no meaningful
label: scikit-learn picks the first class, a float32 sum may lean the other
way by 6e-8. Such rows are counted apart (``tied_flips``), not as flips.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shipyard.errors import ShipyardError
from shipyard.flavors.base import Predictor
from shipyard.optimize.sample import ParityRows

WORST_ROWS = 5


@dataclass(frozen=True)
class WorstRow:
    row: int
    output: str  # the class whose probability differs most, or "prediction"
    source: float
    onnx: float
    diff: float


@dataclass(frozen=True)
class ParityReport:
    compared: str  # "probability" or "prediction"
    rows: int
    sample_rows: int
    drawn_rows: int
    nan_rows: int
    max_diff: float
    mean_diff: float
    label_flips: int
    tied_flips: int
    threshold: float
    worst: tuple[WorstRow, ...]

    @property
    def passed(self) -> bool:
        return self.max_diff <= self.threshold and self.label_flips == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["worst"] = [asdict(w) for w in self.worst]
        data["passed"] = self.passed
        return data

    def summary(self) -> str:
        return (
            f"max |Δ{self.compared}| {self.max_diff:.3g} (gate {self.threshold:g}), "
            f"{self.label_flips} label flip(s) on {self.rows:,} rows "
            + (f"(+{self.tied_flips} on tied rows) " if self.tied_flips else "")
            + f"({self.nan_rows:,} with NaN, {self.drawn_rows:,} drawn)"
        )


class ParityGateFailed(ShipyardError):
    """The converted model does not answer like its source; nothing was registered."""

    def __init__(self, what: str, report: ParityReport) -> None:
        worst = "; ".join(
            f"row {w.row} ({w.output}): source {w.source:.9g}, onnx {w.onnx:.9g}"
            for w in report.worst
        )
        super().__init__(
            f"{what} fails the parity gate: {report.summary()}; no version registered. "
            f"Worst rows: {worst}"
        )
        self.report = report


def check_parity(
    source: Predictor, candidate: Predictor, rows: ParityRows, max_diff: float
) -> ParityReport:
    frame = rows.frame
    flips = tied = 0
    if source.supports_proba and candidate.supports_proba and source.classes is not None:
        expected = np.asarray(source.predict_proba(frame), dtype=np.float64)
        got = np.asarray(candidate.predict_proba(frame), dtype=np.float64)
        _check_shape(expected, got)
        classes = np.asarray(source.classes)
        source_labels = np.asarray(source.predict(frame)).astype(str)
        flipped = source_labels != classes[np.argmax(got, axis=1)].astype(str)
        top = np.sort(expected, axis=1)
        ties = (top[:, -1] - top[:, -2] <= max_diff) if top.shape[1] > 1 else np.zeros_like(flipped)
        flips, tied = int((flipped & ~ties).sum()), int((flipped & ties).sum())
        names = [str(c) for c in source.classes]
        compared = "probability"
    else:
        expected = np.asarray(source.predict(frame), dtype=np.float64).reshape(len(frame), -1)
        got = np.asarray(candidate.predict(frame), dtype=np.float64).reshape(len(frame), -1)
        _check_shape(expected, got)
        names = ["prediction"] * expected.shape[1]
        compared = "prediction"
    diff = np.abs(expected - got)
    diff = np.where(np.isnan(expected) & np.isnan(got), 0.0, diff)
    diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only: worst possible
    per_row = diff.max(axis=1)
    order = np.argsort(-per_row, kind="stable")[:WORST_ROWS]
    worst = tuple(
        WorstRow(
            int(i),
            names[int(np.argmax(diff[i]))],
            float(expected[i, int(np.argmax(diff[i]))]),
            float(got[i, int(np.argmax(diff[i]))]),
            float(per_row[i]),
        )
        for i in order
        if per_row[i] > 0
    )
    return ParityReport(
        compared=compared,
        rows=len(frame),
        sample_rows=rows.sample_rows,
        drawn_rows=rows.drawn_rows,
        nan_rows=rows.nan_rows,
        max_diff=float(per_row.max()) if len(per_row) else 0.0,
        mean_diff=float(per_row.mean()) if len(per_row) else 0.0,
        label_flips=flips,
        tied_flips=tied,
        threshold=max_diff,
        worst=worst,
    )


def _check_shape(expected: np.ndarray, got: np.ndarray) -> None:
    if expected.shape != got.shape:
        raise ShipyardError(
            f"the ONNX graph answers shape {got.shape} where the source answers {expected.shape}"
        )
