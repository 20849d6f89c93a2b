"""The deliberately slow shadow model of benchmarks/shadow.py (a pyfunc wrapper)."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd


class SlowShadow:
    """Answers like the wrapped estimator, 200 ms later."""

    def __init__(self, estimator: Any, delay_s: float) -> None:
        self.estimator = estimator
        self.delay_s = delay_s
        self.classes = [int(c) for c in estimator.classes_]

    def load(self, path: str) -> None:
        return None

    def predict(self, frame: pd.DataFrame) -> Any:
        time.sleep(self.delay_s)
        return self.estimator.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        time.sleep(self.delay_s)
        return self.estimator.predict_proba(frame)
