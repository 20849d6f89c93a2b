"""Explanations of predictions: exact where a closed form exists, sampled elsewhere.

``explainer_for`` picks a registered method for a loaded version (TreeSHAP for
tree ensembles, the linear closed form, permutation sampling for the rest);
every ``Explanation`` carries its base value, attributions per input column,
output space, the model's output and the residual Shipyard computed itself.
"""

from shipyard.explain.base import (
    Explainer,
    NotExplainable,
    explainer_for,
    register_explainer,
    registered_explainers,
)
from shipyard.explain.result import OUTPUT_SPACES, Explanation

__all__ = [
    "OUTPUT_SPACES",
    "Explainer",
    "Explanation",
    "NotExplainable",
    "explainer_for",
    "register_explainer",
    "registered_explainers",
]
