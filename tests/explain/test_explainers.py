"""Every registered explainer on the models it claims: additivity on every row, the
right method and output space, and the closed form against the sampled estimate."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.errors import MissingDependency
from shipyard.explain import registered_explainers
from shipyard.explain.background import background_for
from shipyard.explain.base import explainer_for

ROWS = 40
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Numeric frame, the same with a categorical column and NaNs, binary and 3-class y."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 5)), columns=[f"x{i}" for i in range(5)])
    y = pd.Series((X.x0 + 0.5 * X.x1 - X.x2 + rng.normal(0, 0.3, 400) > 0).astype(int))
    y3 = pd.Series(np.digitize(X.x0 + X.x3, [-0.5, 0.5]))
    mixed = X.copy()
    mixed["color"] = np.where(X.x4 > 0.3, "red", np.where(X.x4 < -0.3, "blue", "green"))
    mixed.loc[::9, "x1"] = np.nan
    return X, mixed, y, y3


def _frame(data: Any, kind: str | bool) -> pd.DataFrame:
    X, mixed, _, _ = data
    if kind == "nan":
        return mixed.drop(columns="color")
    return mixed if kind else X


def _one_hot_logreg() -> Any:
    prep = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["color"]),
        remainder=make_pipeline(SimpleImputer(), StandardScaler()),
    )
    return make_pipeline(prep, LogisticRegression(max_iter=1000))


# name -> (estimator factory, uses the mixed frame, target, expected method, space)
MODELS: dict[str, tuple[Callable[[], Any], bool | str, str, str, str]] = {
    "hgb": (  # NaNs in x1: routed by the trees' learned missing-value branches
        lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0),
        "nan",
        "y",
        "tree_shap",
        "log_odds",
    ),
    "hgb-3class": (
        lambda: HistGradientBoostingClassifier(max_iter=10, random_state=0),
        False,
        "y3",
        "tree_shap",
        "log_odds",
    ),
    "rf": (
        lambda: RandomForestClassifier(20, max_depth=6, random_state=0),
        False,
        "y",
        "tree_shap",
        "probability",
    ),
    "gb": (
        lambda: GradientBoostingClassifier(n_estimators=20, random_state=0),
        False,
        "y",
        "tree_shap",
        "log_odds",
    ),
    "extra-trees": (
        lambda: ExtraTreesClassifier(10, random_state=0),
        False,
        "y3",
        "tree_shap",
        "probability",
    ),
    "tree": (lambda: DecisionTreeClassifier(max_depth=4), False, "y", "tree_shap", "probability"),
    "rf-regressor": (
        lambda: RandomForestRegressor(10, max_depth=5, random_state=0),
        False,
        "x",
        "tree_shap",
        "raw",
    ),
    "scaled-hgb": (
        lambda: make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=20)),
        False,
        "y",
        "tree_shap",
        "log_odds",
    ),
    "one-hot-hgb": (
        lambda: make_pipeline(
            make_column_transformer(
                (OneHotEncoder(sparse_output=False), ["color"]), remainder="passthrough"
            ),
            HistGradientBoostingClassifier(max_iter=20),
        ),
        True,
        "y",
        "tree_shap",
        "log_odds",
    ),
    "scaler-logreg": (
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        False,
        "y",
        "linear_exact",
        "log_odds",
    ),
    "one-hot-logreg": (_one_hot_logreg, True, "y", "linear_exact", "log_odds"),
    "logreg-3class": (
        lambda: LogisticRegression(max_iter=1000),
        False,
        "y3",
        "linear_exact",
        "raw",
    ),
    "ridge": (lambda: Ridge(), False, "x", "linear_exact", "raw"),
    "mlp": (
        lambda: make_pipeline(StandardScaler(), MLPClassifier((6,), max_iter=300, random_state=0)),
        False,
        "y",
        "sampled",
        "probability",
    ),
    "polynomial-logreg": (  # features mixing columns: not mapped back, so sampled
        lambda: make_pipeline(PolynomialFeatures(2), LogisticRegression(max_iter=2000)),
        False,
        "y",
        "sampled",
        "probability",
    ),
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, data) -> Any:
    X, _, y, y3 = data
    client = Client(settings=StoreSettings(home=tmp_path_factory.mktemp("explain"), user="t"))
    targets = {"y": y, "y3": y3, "x": X.x0 * 2 - X.x1 + X.x2 * X.x3}
    for name, (factory, uses_mixed, target, _, _) in MODELS.items():
        frame = _frame(data, uses_mixed)
        model = factory().fit(frame, targets[target])
        client.register_model(model, name=name, sample_input=frame[:50], reference_data=frame)
    yield client
    client.close()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_attributions_add_up_to_the_output_on_every_row(registry, data, name) -> None:
    _, uses_mixed, _, method, space = MODELS[name]
    frame = _frame(data, uses_mixed).iloc[:ROWS]
    explanation = registry.explain(f"models:/{name}/1", frame)
    assert (explanation.method, explanation.output_space) == (method, space)
    assert explanation.rows == ROWS
    assert explanation.residual.max() <= 1e-6, explanation.residual.max()
    assert explanation.approximate == (method == "sampled")
    rows = explanation.to_rows()
    assert all(r["residual"] <= 1e-6 and r["method"] == method for r in rows)
    model = registry.load_model(f"models:/{name}/1")
    if space == "probability" and len(model.classes) == 2:
        assert np.allclose([r["output"] for r in rows], model.predict_proba(frame)[:, 1])
    if name.endswith("3class") or name == "extra-trees":
        assert set(rows[0]["attributions"]) == {"0", "1", "2"}  # one set per class
        assert set(rows[0]["attributions"]["0"]) == set(frame.columns)
    else:
        assert set(rows[0]["attributions"]) == set(frame.columns)  # one-hot summed back


def test_a_column_the_trees_never_split_on_gets_nothing(registry, data) -> None:
    X, _, _, _ = data
    model = registry.load_model("models:/tree/1")
    used = set(model.raw.tree_.feature[model.raw.tree_.feature >= 0])
    unused = [c for i, c in enumerate(X.columns) if i not in used]
    explanation = registry.explain("models:/tree/1", X.iloc[:ROWS])
    for column in unused:
        assert np.all(explanation.attributions[:, list(X.columns).index(column)] == 0)


def test_sampled_estimate_equals_the_closed_form_on_a_linear_pipeline(tmp_path: Path, data) -> None:
    """For a linear model every permutation path gives w·(x - background) per input
    (one-hot columns switch together), so with the whole background in the budget the
    sampled method must reproduce the closed form: a check of both."""
    _, mixed, _, _ = data
    client = Client(settings=StoreSettings(home=tmp_path / "ws", user="t"))
    pipeline = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(), ["color"]), remainder=make_pipeline(SimpleImputer(), StandardScaler())
        ),
        Ridge(),
    ).fit(mixed, mixed.x0 * 3 + (mixed.color == "red"))
    version = client.register_model(
        pipeline, name="lin", sample_input=mixed[:50], reference_data=mixed
    )
    loaded = client.load_model("models:/lin/1")
    background = background_for(client.store, version).head(20)
    exact = explainer_for(loaded, background, "linear_exact").explain(mixed.iloc[:10])
    sampled_cls = next(c for c in registered_explainers() if c.name == "sampled")
    sampled = sampled_cls.build(loaded, background, budget=2 * 20 * 7).explain(mixed.iloc[:10])
    assert np.allclose(sampled.base_value, exact.base_value)
    assert np.allclose(sampled.attributions, exact.attributions, atol=1e-9)
    client.close()


def test_without_reference_data_the_signature_middle_is_the_background(
    tmp_path: Path, data
) -> None:
    X, _, y, _ = data
    client = Client(settings=StoreSettings(home=tmp_path / "ws", user="t"))
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    version = client.register_model(model, name="plain", sample_input=X)
    background = background_for(client.store, version)
    assert len(background) == 1
    explanation = client.explain("models:/plain/1", X.iloc[:5])
    assert explanation.residual.max() <= 1e-9
    assert np.isclose(explanation.base_value[0], model.decision_function(background)[0])
    client.close()


def test_a_reference_keeps_a_capped_background_sample(registry) -> None:
    version = registry.get_model_version("hgb", 1)
    background = background_for(registry.store, version)
    assert len(background) == 100 and list(background.columns) == version.signature.columns


def test_tree_models_without_shap_name_the_extra(registry, data, monkeypatch) -> None:
    X, _, _, _ = data
    monkeypatch.setitem(sys.modules, "shap", None)  # what an environment without shap has
    with pytest.raises(MissingDependency, match=r"shipyard\[explain\]"):
        registry.explain("models:/rf/1", X.iloc[:2])
