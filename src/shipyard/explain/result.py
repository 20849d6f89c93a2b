"""What an explanation is: base value, attributions per input column, and the proof.

Every row carries the output space the numbers add up in, the model's own output
in that space (computed by Shipyard from the model, not taken from the explaining
library) and the residual |base + sum(attributions) - output|, so a caller can see
for itself that the attributions account for the prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

OUTPUT_SPACES = ("log_odds", "raw", "probability")


def _number(value: Any) -> Any:
    """Plain Python scalars for JSON (class labels included)."""
    return value.item() if isinstance(value, np.generic) else value


#: An array as it travels (the remote SDK): nested lists of floats, read back as float64.
Array = Annotated[
    np.ndarray,
    PlainValidator(lambda value: np.asarray(value, dtype=float)),
    PlainSerializer(lambda array: array.tolist()),
    WithJsonSchema({"type": "array", "items": {}}),
]


@dataclass(frozen=True)
class Explanation:
    """Explanations of ``n`` rows with ``k`` outputs (1, or one per class for multi-class).

    ``attributions`` is ``(n, columns, k)``, ``base_value`` ``(k,)``, ``output``
    ``(n, k)``. ``classes`` names the k outputs of a multi-class model; ``explained_class``
    is the class a binary classifier's single output stands for.
    """

    columns: tuple[str, ...]
    base_value: Array
    attributions: Array
    output: Array
    output_space: str
    method: str
    approximate: bool = False
    classes: tuple[Any, ...] | None = None
    explained_class: Any = None
    evaluations: int | None = None  # model evaluations per row, for sampled methods

    def __post_init__(self) -> None:
        n, width, k = self.attributions.shape
        if (
            width != len(self.columns)
            or self.output.shape != (n, k)
            or self.base_value.shape != (k,)
        ):
            raise ValueError(
                f"inconsistent explanation shapes: attributions {self.attributions.shape}, "
                f"output {self.output.shape}, base {self.base_value.shape}, "
                f"{len(self.columns)} columns"
            )
        if self.output_space not in OUTPUT_SPACES:
            raise ValueError(f"unknown output space {self.output_space!r}")

    def predicted(self, classes: Sequence[Any] | None) -> list[Any] | None:
        """The labels the outputs imply (a scikit-learn classifier predicts the class with
        the largest score), so the server need not call the model a second time; None when
        the outputs do not decide it (regression, an approximate method)."""
        if (
            self.approximate
            or classes is None
            or self.output_space not in ("log_odds", "probability")
        ):
            return None
        classes = list(classes)
        if self.output.shape[1] == len(classes) > 2:
            return [_number(classes[i]) for i in np.argmax(self.output, axis=1)]
        if len(classes) == 2 and self.output.shape[1] == 1 and self.explained_class in classes:
            cut = 0.0 if self.output_space == "log_odds" else 0.5
            positive = self.explained_class
            negative = classes[0] if positive == classes[1] else classes[1]
            return [_number(positive if v > cut else negative) for v in self.output[:, 0]]
        return None

    @property
    def rows(self) -> int:
        return int(self.attributions.shape[0])

    @property
    def residual(self) -> np.ndarray:
        """|base + sum(attributions) - output| per row (the largest over outputs)."""
        total = self.base_value[None, :] + self.attributions.sum(axis=1)
        return np.asarray(np.abs(total - self.output).max(axis=1))

    def mean_abs(self) -> dict[str, float]:
        """Global importance of this sample: mean |attribution| per column (over classes too)."""
        values = np.abs(self.attributions).mean(axis=(0, 2))
        return {c: float(v) for c, v in zip(self.columns, values, strict=True)}

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per row, the same on every protocol."""
        residuals = self.residual.tolist()
        attributions = self.attributions.tolist()
        outputs = self.output.tolist()
        base = self.base_value.tolist()
        multi = self.classes is not None and len(self.classes) == self.base_value.shape[0] > 1
        names = [str(_number(c)) for c in self.classes] if multi and self.classes else []
        rows = []
        for i in range(self.rows):
            per_column = attributions[i]
            if multi:
                row: dict[str, Any] = {
                    "base_value": dict(zip(names, base, strict=True)),
                    "attributions": {
                        name: {c: per_column[j][k] for j, c in enumerate(self.columns)}
                        for k, name in enumerate(names)
                    },
                    "output": dict(zip(names, outputs[i], strict=True)),
                }
            else:
                row = {
                    "base_value": base[0],
                    "attributions": {c: per_column[j][0] for j, c in enumerate(self.columns)},
                    "output": outputs[i][0],
                }
                if self.explained_class is not None:
                    row["class"] = _number(self.explained_class)
            row.update(
                {
                    "output_space": self.output_space,
                    "residual": residuals[i],
                    "method": self.method,
                    "approximate": self.approximate,
                }
            )
            if self.evaluations is not None:
                row["evaluations"] = self.evaluations
            rows.append(row)
        return rows
