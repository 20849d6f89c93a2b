"""Which input column each of a pipeline's transformed features comes from.

Exact methods explain the final estimator over the features the earlier
steps produce (scaled numbers, one-hot columns, ...); summing the attributions
of the features that came from one input gives that input's attribution, and
keeps the total. That is sound only when every transformed feature depends on
exactly one input, so only transformers known to work column by column are
mapped; anything else raises ``NotExplainable`` and the sampled method takes over.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.explain.base import NotExplainable

#: Transformers whose output feature i is a function of input feature i alone.
ELEMENTWISE = {
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "RobustScaler",
    "PowerTransformer",
    "QuantileTransformer",
    "OrdinalEncoder",
    "Binarizer",
}


def split_pipeline(estimator: Any) -> tuple[Any | None, Any]:
    """(the transforming steps as one object or None, the final estimator)."""
    steps = getattr(estimator, "steps", None)
    if not steps:
        return None, estimator
    if len(steps) == 1:
        return None, steps[0][1]
    return estimator[:-1], steps[-1][1]


def source_columns(transformer: Any, n_inputs: int) -> np.ndarray:
    """For each output feature of ``transformer``, the index of the input it comes from."""
    if transformer is None or (isinstance(transformer, str) and transformer == "passthrough"):
        return np.arange(n_inputs)
    kind = type(transformer).__name__
    if hasattr(transformer, "steps"):
        mapping = np.arange(n_inputs)
        for _, step in transformer.steps:
            mapping = mapping[source_columns(step, len(mapping))]
        return mapping
    if kind == "ColumnTransformer":
        return _column_transformer(transformer, n_inputs)
    if kind in ELEMENTWISE or (kind == "FunctionTransformer" and transformer.func is None):
        return np.arange(n_inputs)  # a fitted "passthrough" is an identity FunctionTransformer
    if kind == "OneHotEncoder":
        widths = getattr(transformer, "_n_features_outs", None)
        if widths is None:
            widths = [len(c) for c in transformer.categories_]
        return np.repeat(np.arange(n_inputs), widths)
    if kind == "SimpleImputer":
        return _imputer(transformer, n_inputs)
    if kind == "KBinsDiscretizer":
        if transformer.encode == "ordinal":
            return np.arange(n_inputs)
        return np.repeat(np.arange(n_inputs), transformer.n_bins_)
    raise NotExplainable(
        f"{kind} is not known to transform column by column, so its features cannot be "
        "mapped back to input columns"
    )


def _imputer(imputer: Any, n_inputs: int) -> np.ndarray:
    statistics = pd.isna(pd.Series(imputer.statistics_, dtype=object)).to_numpy()
    keep = np.ones(n_inputs, bool) if imputer.keep_empty_features else ~statistics
    kept = np.flatnonzero(keep)
    if imputer.strategy == "constant":
        kept = np.arange(n_inputs)
    indicator = getattr(imputer, "indicator_", None)
    if indicator is not None:
        kept = np.concatenate([kept, np.asarray(indicator.features_, dtype=np.int64)])
    return kept


def _column_transformer(transformer: Any, n_inputs: int) -> np.ndarray:
    slices = transformer.output_indices_
    width = max((s.stop for s in slices.values()), default=0)
    mapping = np.full(width, -1, dtype=np.int64)
    names_in = list(getattr(transformer, "feature_names_in_", []))
    for name, inner, columns in transformer.transformers_:
        if isinstance(inner, str) and inner == "drop":
            continue
        inputs = _column_indices(columns, n_inputs, names_in)
        out = slices[name]
        if out.stop - out.start == 0:
            continue
        mapping[out] = inputs[source_columns(inner, len(inputs))]
    if (mapping < 0).any():
        raise NotExplainable("a ColumnTransformer output could not be traced to an input column")
    return mapping


def _column_indices(columns: Any, n_inputs: int, names_in: list[str]) -> np.ndarray:
    if isinstance(columns, slice):
        return np.arange(n_inputs)[columns]
    values = np.atleast_1d(np.asarray(columns))
    if values.dtype == bool:
        return np.flatnonzero(values)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if callable(columns):
        raise NotExplainable("ColumnTransformer columns given by a callable")
    try:
        return np.array([names_in.index(str(c)) for c in values], dtype=np.int64)
    except ValueError as exc:
        raise NotExplainable(f"ColumnTransformer column not among the inputs: {exc}") from exc


def grouping_matrix(mapping: np.ndarray, n_inputs: int) -> np.ndarray:
    """``(transformed, inputs)`` 0/1 matrix: attributions @ it sums features per input."""
    matrix = np.zeros((len(mapping), n_inputs))
    matrix[np.arange(len(mapping)), mapping] = 1.0
    return matrix


def transformed(transformer: Any, data: Any) -> np.ndarray:
    """The transforming steps' output as a dense float matrix."""
    if transformer is None:
        return np.asarray(data, dtype=np.float64)
    out = transformer.transform(data)
    if hasattr(out, "toarray"):
        out = out.toarray()
    return np.asarray(out, dtype=np.float64)


def input_mapping(estimator: Any, prep: Any, columns: tuple[str, ...]) -> np.ndarray:
    """``source_columns`` as positions in the signature's column order (the estimator may
    have been fitted on the columns in another order)."""
    names = getattr(estimator, "feature_names_in_", None)
    fit_order = list(columns) if names is None else [str(n) for n in names]
    missing = [n for n in fit_order if n not in columns]
    if missing or len(fit_order) != len(columns):
        raise NotExplainable(f"the estimator's inputs {fit_order} are not the signature's")
    order = np.array([columns.index(n) for n in fit_order], dtype=np.int64)
    return order[source_columns(prep, len(fit_order))]
