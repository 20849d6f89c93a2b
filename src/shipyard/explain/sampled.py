"""Model-agnostic Shapley values by permutation sampling, with an evaluation budget.

For any model (pyfunc, ONNX, an estimator the exact methods do not know):
for a random permutation of the columns and a background row, start from the
background row and switch the columns to the explained row's values one at a
time in that order; each switch's change in the output is that column's
contribution. Every permutation is used forwards and backwards (antithetic
pairs, lower variance). The changes along one path add up to f(x) - f(background
row), so the attributions add up to the output exactly against the mean output
of the background rows used (the base value): additivity holds by construction,
the attributions themselves are estimates (``approximate`` in the response).
All evaluations of a row go to the model in one call.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shipyard.explain.base import Explainer, NotExplainable, as_outputs, register_explainer
from shipyard.explain.result import Explanation
from shipyard.registry.loaded import LoadedModel

#: Model evaluations per explained row (MLflow's default sample is 2,000 rows).
DEFAULT_BUDGET = 2048


@register_explainer
class SampledExplainer(Explainer):
    name: ClassVar[str] = "sampled"
    priority: ClassVar[int] = 1000

    def __init__(
        self, loaded: LoadedModel, background: pd.DataFrame, budget: int = DEFAULT_BUDGET
    ) -> None:
        super().__init__(loaded)
        width = len(self.columns)
        self.pairs = max(1, min(len(background), budget // (2 * (width + 1))))
        self.background = background.iloc[: self.pairs].reset_index(drop=True)
        self.evaluations = 2 * self.pairs * (width + 1)
        classes = loaded.classes
        self.proba = hasattr(loaded, "predict_proba") and classes is not None
        self.classes = tuple(classes) if classes is not None else None
        self.positive = self.proba and self.classes is not None and len(self.classes) == 2
        self.output_space = "probability" if self.proba else "raw"
        self.base_value = self.model_output(self.background).mean(axis=0)

    @classmethod
    def supports(cls, loaded: LoadedModel) -> bool:
        return True

    @classmethod
    def build(
        cls, loaded: LoadedModel, background: pd.DataFrame, budget: int = DEFAULT_BUDGET
    ) -> SampledExplainer:
        if background.empty:
            raise NotExplainable("no background rows")
        try:
            return cls(loaded, background, budget)
        except (TypeError, ValueError) as exc:
            raise NotExplainable(f"the model's output is not numeric: {exc}") from exc

    def describe(self) -> dict[str, Any]:
        return {"method": self.name, "evaluations": self.evaluations}

    def model_output(self, frame: pd.DataFrame) -> np.ndarray:
        """``(rows, k)``: the positive class's probability, every class's, or the prediction."""
        if self.proba:
            proba = np.asarray(self.loaded.predict_proba(frame), dtype=np.float64)
            return proba[:, 1:] if self.positive else proba
        return as_outputs(self.loaded.predict(frame), len(frame))

    def _paths(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Masks ``(paths, width + 1, width)`` (True: the explained row's value) and the
        column switched at each step ``(paths, width)``."""
        width = len(self.columns)
        orders = np.array([rng.permutation(width) for _ in range(self.pairs)])
        orders = np.concatenate([orders, orders[:, ::-1]])  # antithetic pairs
        ranks = np.argsort(orders, axis=1)  # rank[p, j]: when column j is switched
        steps = np.arange(width + 1)[None, :, None]
        masks = steps > ranks[:, None, :]
        return masks, orders

    def _explain_row(self, frame: pd.DataFrame, index: int, rng: np.random.Generator) -> Any:
        masks, orders = self._paths(rng)
        paths, points, width = masks.shape
        background_rows = np.tile(np.arange(self.pairs), 2)  # path p starts at row p % pairs
        flat = masks.reshape(-1, width)
        start = np.repeat(background_rows, points)
        columns = {}
        for j, name in enumerate(self.columns):
            base = self.background[name].to_numpy()[start]
            value = frame[name].iloc[index]
            mixed = np.where(flat[:, j], value, base)
            columns[name] = pd.Series(mixed, dtype=self.background[name].dtype)
        outputs = self.model_output(pd.DataFrame(columns)).reshape(paths, points, -1)
        changes = np.diff(outputs, axis=1)  # (paths, width, k): step s switched orders[p, s]
        phi = np.zeros((width, outputs.shape[2]))
        for p in range(paths):
            phi[orders[p]] += changes[p]
        return phi / paths

    def explain(self, frame: pd.DataFrame) -> Explanation:
        # A fixed seed per row: the same row gets the same explanation in any batch.
        attributions = np.stack(
            [self._explain_row(frame, i, np.random.default_rng(0)) for i in range(len(frame))]
        )
        multi = self.proba and not self.positive
        return Explanation(
            columns=self.columns,
            base_value=self.base_value,
            attributions=attributions,
            output=self.model_output(frame),
            output_space=self.output_space,
            method=self.name,
            approximate=True,
            classes=self.classes if multi else None,
            explained_class=self.classes[1] if self.positive and self.classes else None,
            evaluations=self.evaluations,
        )
