"""One loaded, warmed model version as the server runs it.

Requests arrive as validated rows; the batcher concatenates the rows of many
requests into one DataFrame and makes one model call. For classifiers with
``predict_proba`` the predicted class is the argmax of the probabilities
returned alongside it, so the two always agree and the model is called once.
If a batch fails, each request is retried alone so that one bad request
cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.deploy.policy import ServingConfig
from shipyard.entities import ModelVersion
from shipyard.registry.loaded import LoadedModel
from shipyard.serving.batching import BatchingConfig, MicroBatcher
from shipyard.serving.metrics import ServingMetrics
from shipyard.serving.threads import ModelThreads
from shipyard.serving.validation import RowValidator

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PredictionOutput:
    """One request's answer: lists for the response, and the batch's own arrays (views of
    this request's rows) so the prediction log copies nothing row by row."""

    predictions: list[Any]
    probabilities: list[list[float]] | None
    label_array: np.ndarray | None = None
    proba_array: np.ndarray | None = None
    #: The request's rows as the float matrix the model received (None off the fast path).
    inputs: np.ndarray | None = None


class ServedModel:
    def __init__(
        self,
        version: ModelVersion,
        loaded: LoadedModel,
        config: ServingConfig,
        metrics: ServingMetrics,
        expectations: dict[str, Any] | None = None,
        threads: ModelThreads | None = None,
    ) -> None:
        self.version = version
        self.threads = threads
        self.key = f"{version.name}/{version.version}"
        self.loaded = loaded
        self.predictor = loaded.predictor
        self.validator = RowValidator(version.signature, expectations)
        self.has_proba = self.predictor.supports_proba
        classes = self.predictor.classes
        self.classes = np.asarray(classes) if classes is not None else None
        self.config = config
        # Fast path: all-float inputs go to the model as one matrix, no DataFrame.
        self.matrix = self.validator.all_float and self.predictor.accepts_matrix(
            self.validator.columns
        )
        if self.matrix:
            # scikit-learn warns on every call that a matrix has no column names;
            # the server checked names and order already, so the warning is noise.
            warnings.filterwarnings(
                "ignore", message="X does not have valid feature names", category=UserWarning
            )
        self.batcher: MicroBatcher[list[list[Any]], PredictionOutput] | None = None
        if config.batching and config.max_batch_size > 1:
            self.batcher = MicroBatcher(
                self._run_batch,
                BatchingConfig(config.max_batch_size, config.max_wait_ms),
                name=self.key,
                observer=metrics.batch_observer(self.key),
            )

    # -- model calls (in the batch thread) ---------------------------------------
    def _predict(
        self, rows: list[list[Any]]
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(labels, probabilities, input matrix): the matrix only on the all-float path."""
        if self.threads is not None:
            self.threads.apply()  # whichever thread runs this call (loop, batcher, pool)
        if self.matrix:
            matrix = np.array(rows, dtype=np.float64)
            if self.has_proba and self.classes is not None:
                probabilities = self.predictor.predict_proba_matrix(matrix)
                return self.classes[np.argmax(probabilities, axis=1)], probabilities, matrix
            return np.asarray(self.predictor.predict_matrix(matrix)), None, matrix
        frame = self.validator.frame(rows)
        if self.has_proba and self.classes is not None:
            probabilities = self.predictor.predict_proba(frame)
            return self.classes[np.argmax(probabilities, axis=1)], probabilities, None
        return np.asarray(self.predictor.predict(frame)), None, None

    def predict_rows(self, rows: list[list[Any]]) -> PredictionOutput:
        labels, probabilities, matrix = self._predict(rows)
        return PredictionOutput(
            labels.tolist(),
            probabilities.tolist() if probabilities is not None else None,
            labels,
            probabilities,
            matrix,
        )

    def _run_batch(self, items: list[list[list[Any]]]) -> list[PredictionOutput | BaseException]:
        if len(items) == 1:
            return [self.predict_rows(items[0])]
        rows = [row for item in items for row in item]
        try:
            labels, probabilities, matrix = self._predict(rows)
        except Exception:
            logger.warning(
                "batch of %d failed on %s; retrying requests one by one", len(items), self.key
            )
            return [self._isolated(item) for item in items]
        label_list = labels.tolist()
        proba_list = probabilities.tolist() if probabilities is not None else None
        outputs: list[PredictionOutput | BaseException] = []
        start = 0
        for item in items:
            end = start + len(item)
            outputs.append(
                PredictionOutput(
                    label_list[start:end],
                    proba_list[start:end] if proba_list is not None else None,
                    labels[start:end],
                    probabilities[start:end] if probabilities is not None else None,
                    matrix[start:end] if matrix is not None else None,
                )
            )
            start = end
        return outputs

    def _isolated(self, item: list[list[Any]]) -> PredictionOutput | BaseException:
        try:
            return self.predict_rows(item)
        except Exception as exc:
            return exc

    # -- serving -----------------------------------------------------------------------
    async def predict(self, rows: list[list[Any]]) -> PredictionOutput:
        if self.batcher is not None:
            return await self.batcher.submit(rows)
        return await asyncio.to_thread(self.predict_rows, rows)

    def warm(self) -> None:
        """One prediction on a synthetic row, so the first request is not the slow one."""
        self.predict_rows([[c.example() for c in self.version.signature.inputs]])

    async def close(self) -> None:
        if self.batcher is not None:
            await self.batcher.close()
