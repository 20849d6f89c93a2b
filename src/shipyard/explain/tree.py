"""Exact path-dependent TreeSHAP for scikit-learn tree ensembles (via ``shap``).

Path-dependent TreeSHAP needs no background: the trees' own training covers
weight the paths, it is exact and polynomial (O(T·L·D²)), about 1 ms a row for
a 100-tree boosting model. Gradient boosting classifiers are explained in
log-odds (their decision function), forests and single trees in probability,
regressors in their raw prediction. A pipeline's earlier steps must work column
by column (``features.py``); the attributions of the features an input became
are summed back to that input.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shipyard.estimators import BOOSTING, FORESTS
from shipyard.explain._shap import import_shap
from shipyard.explain.base import (
    Explainer,
    NotExplainable,
    as_outputs,
    estimator_input,
    register_explainer,
)
from shipyard.explain.features import grouping_matrix, input_mapping, split_pipeline, transformed
from shipyard.explain.result import Explanation
from shipyard.registry.loaded import LoadedModel


@register_explainer
class TreeShapExplainer(Explainer):
    name: ClassVar[str] = "tree_shap"
    priority: ClassVar[int] = 10

    def __init__(
        self, loaded: LoadedModel, prep: Any, final: Any, explainer: Any, mapping: np.ndarray
    ) -> None:
        super().__init__(loaded)
        self.grouping = grouping_matrix(mapping, len(self.columns))
        self.estimator = loaded.raw
        self.prep = prep
        self.final = final
        self.shap = explainer
        kind = type(final).__name__
        self.classes: Any = getattr(final, "classes_", None)
        self.is_classifier = self.classes is not None
        if not self.is_classifier:
            self.output_space = "raw"
        else:
            self.output_space = "log_odds" if kind in BOOSTING else "probability"
        expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
        # A binary classifier explained in probability has one column per class: keep
        # the positive one, like the log-odds of boosting, which has only that one.
        n_classes = 0 if self.classes is None else len(self.classes)
        self.positive = n_classes == 2 and len(expected) == 2
        self.base_value = expected[1:] if self.positive else expected

    @classmethod
    def supports(cls, loaded: LoadedModel) -> bool:
        _, final = split_pipeline(loaded.raw)
        return type(final).__name__ in BOOSTING | FORESTS

    @classmethod
    def build(cls, loaded: LoadedModel, background: pd.DataFrame) -> TreeShapExplainer:
        shap = import_shap()
        prep, final = split_pipeline(loaded.raw)
        if type(final).__name__ == "GradientBoostingClassifier" and len(final.classes_) > 2:
            raise NotExplainable("shap explains GradientBoostingClassifier for two classes only")
        mapping = input_mapping(loaded.raw, prep, tuple(loaded.signature.columns))
        try:
            explainer = shap.TreeExplainer(final, feature_perturbation="tree_path_dependent")
        except Exception as exc:  # shap raises plain Exceptions for models it cannot read
            raise NotExplainable(f"shap.TreeExplainer: {exc}") from exc
        built = cls(loaded, prep, final, explainer, mapping)
        probe = transformed(prep, estimator_input(loaded.raw, background.head(2)))
        if probe.shape[1] != len(mapping):
            raise NotExplainable(
                f"the pipeline makes {probe.shape[1]} features, the mapping {len(mapping)}"
            )
        return built

    def _outputs(self, data: Any, rows: int) -> np.ndarray:
        """The model's own output in the explained space (computed here, not by shap)."""
        if not self.is_classifier:
            return as_outputs(self.estimator.predict(data), rows)
        if self.output_space == "log_odds":
            return as_outputs(self.estimator.decision_function(data), rows)
        proba = np.asarray(self.estimator.predict_proba(data), dtype=np.float64)
        return proba[:, 1:] if self.positive else proba

    def explain(self, frame: pd.DataFrame) -> Explanation:
        data = estimator_input(self.estimator, frame)
        features = transformed(self.prep, data)
        values = np.asarray(self.shap.shap_values(features, check_additivity=False))
        if values.ndim == 2:
            values = values[:, :, None]
        if self.positive:
            values = values[:, :, 1:]
        attributions = np.einsum("ntk,ti->nik", values, self.grouping)
        multi = self.is_classifier and not self.positive and values.shape[2] > 1
        return Explanation(
            columns=self.columns,
            base_value=self.base_value,
            attributions=attributions,
            output=self._outputs(data, len(frame)),
            output_space=self.output_space,
            method=self.name,
            classes=tuple(self.classes) if multi else None,
            explained_class=self.classes[1] if self.is_classifier and not multi else None,
        )
