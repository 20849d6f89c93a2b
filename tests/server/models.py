"""Python-function test models for the server tests (imported by the flavor by module)."""

from __future__ import annotations

import pandas as pd


class Explodes:
    """Predicts x * 2, and raises for x == 13 (a model bug on some inputs)."""

    def load(self, path: str) -> None:
        return None

    def predict(self, frame: pd.DataFrame) -> list[float]:
        if (frame["x"] == 13).any():
            raise ValueError("unlucky input")
        return (frame["x"] * 2).tolist()


class Categorical:
    """Scores a row from a category and a nullable number."""

    def load(self, path: str) -> None:
        return None

    def predict(self, frame: pd.DataFrame) -> list[float]:
        bonus = frame["color"].map({"red": 1.0, "blue": 2.0}).fillna(0.0)
        return (bonus + frame["amount"].fillna(0.0)).tolist()
