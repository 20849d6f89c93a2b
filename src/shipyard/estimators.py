"""Families of scikit-learn estimators, by class name (no scikit-learn import needed).

Optimization (which trees route NaN the classic way) and explanations (which
models TreeSHAP covers, in which output space) both ask what kind of tree
model they hold; the names live here once.
"""

from __future__ import annotations

#: Gradient boosting: additive trees whose raw output is a margin (log-odds).
BOOSTING = frozenset(
    {
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
    }
)

#: Forests and single trees: averaged leaf values, NaN routed by ``missing_go_to_left``.
FORESTS = frozenset(
    {
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
    }
)
