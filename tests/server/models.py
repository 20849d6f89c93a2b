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


class Threshold:
    """Predicts 1 when x > cut (with a score), for constructed shadow comparisons."""

    def __init__(self, cut: float, delay_s: float = 0.0) -> None:
        self.cut = cut
        self.delay_s = delay_s
        self.classes = [0, 1]

    def load(self, path: str) -> None:
        return None

    def predict(self, frame: pd.DataFrame) -> list[int]:
        return (frame["x"] > self.cut).astype(int).tolist()

    def predict_proba(self, frame: pd.DataFrame) -> list[list[float]]:
        import time

        if self.delay_s:
            time.sleep(self.delay_s)
        positive = (frame["x"] > self.cut).astype(float) * 0.8 + 0.1
        return [[1 - p, p] for p in positive]


class ThreadProbe:
    """Predicts, for each row, the native thread pools of the thread that runs the model.

    ``"openmp=N,blas=M"`` from threadpoolctl, read in the calling thread: libgomp keeps
    its limit per thread, so this shows what a scikit-learn model would really use there.
    """

    def load(self, path: str) -> None:
        import sklearn  # noqa: F401  (loads scikit-learn's OpenMP runtime, as a tree model does)

    def predict(self, frame: pd.DataFrame) -> list[str]:
        from threadpoolctl import threadpool_info

        pools: dict[str, set[int]] = {"openmp": set(), "blas": set()}
        for pool in threadpool_info():
            pools[pool["user_api"]].add(pool["num_threads"])
        described = ",".join(f"{api}={max(sizes)}" for api, sizes in pools.items() if sizes)
        return [described] * len(frame)


class Leaky:
    """For x == 13, raises with a workspace path and SQL in the text: neither may reach a caller."""

    def __init__(self, path: str) -> None:
        self.path = path

    def load(self, path: str) -> None:
        return None

    def predict(self, frame: pd.DataFrame) -> list[float]:
        if not (frame["x"] == 13).any():
            return frame["x"].tolist()
        raise RuntimeError(
            f"(sqlite3.OperationalError) database is locked [SQL: SELECT hash FROM tokens] "
            f"in {self.path}/shipyard.db"
        )
