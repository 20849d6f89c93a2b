"""Fitted estimators of every family ``shipyard optimize`` converts, on shared data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def numeric_data() -> tuple[pd.DataFrame, pd.Series]:
    """1,200 rows x 8 float columns (a binary target), about 3% of cells missing."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=1_200, n_features=8, n_informative=5, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    return frame, pd.Series(y, name="target")


@pytest.fixture(scope="session")
def mixed_data() -> tuple[pd.DataFrame, pd.Series]:
    """Numbers with gaps and a text column: what a ColumnTransformer pipeline takes."""
    rng = np.random.default_rng(1)
    n = 1_200
    frame = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 50.0, n),
            "age": rng.integers(18, 90, n).astype("float64"),
            "channel": rng.choice(["web", "store", "phone"], n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "amount"] = np.nan
    logit = 0.01 * frame["amount"].fillna(100) - 0.03 * frame["age"] + (frame["channel"] == "web")
    return frame, pd.Series((logit + rng.normal(0, 0.5, n) > 0).astype(int), name="target")
