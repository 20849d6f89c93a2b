"""What ``shipyard.load_model`` returns: a version's predictor plus its signature.

The wrapper adds as little as possible to each call (a column check and, when
needed, a reorder) so that serving overhead stays in the microseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.entities import ModelVersion
from shipyard.flavors.base import Predictor
from shipyard.signature import Signature, to_frame


class LoadedModel:
    def __init__(self, version: ModelVersion, predictor: Predictor) -> None:
        self.version = version
        self.predictor = predictor
        self.signature: Signature = version.signature
        self._columns = version.signature.columns
        self._column_index = pd.Index(self._columns)
        if predictor.supports_proba:
            # Present only for models that have it, so hasattr() works as with sklearn.
            self.predict_proba = self._predict_proba

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def classes(self) -> tuple[Any, ...] | None:
        return self.predictor.classes

    @property
    def raw(self) -> Any:
        """The underlying estimator / session / user object."""
        return self.predictor.raw

    def _frame(self, data: Any) -> pd.DataFrame:
        if isinstance(data, pd.DataFrame):
            if data.columns.equals(self._column_index):
                return data
            return self.signature.select_columns(data)
        if isinstance(data, np.ndarray) and data.ndim == 2 and data.shape[1] == len(self._columns):
            return pd.DataFrame(data, columns=self._columns)
        frame, _ = to_frame(data, what="input")
        return self.signature.select_columns(frame)

    def predict(self, data: Any) -> Any:
        return self.predictor.predict(self._frame(data))

    def _predict_proba(self, data: Any) -> np.ndarray:
        return self.predictor.predict_proba(self._frame(data))

    def __repr__(self) -> str:
        return f"<LoadedModel {self.version.uri} flavor={self.version.flavor}>"
