"""The explain routes of the predict app: native, KServe v1 and the OIP extension.

``POST /v1/deployments/{name}/explain`` (native body), ``POST /v1/models/{name}:explain``
(KServe v1 ``instances``) and ``POST /v2/models/{name}/explain`` (the OIP infer
body; ``explain`` is declared in ``GET /v2``'s ``extensions``) decode through the
same protocol adapters and row validator as predict, so bad input gets the same
4xx, and answer the same explanation per row. They explain the deployment's
primary version with an explainer built once per loaded version (on first use,
in a thread) and run on a thread pool of their own, never on the event loop or
the batcher's thread, so explanations never hold up predictions.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shipyard.explain.base import Explainer
from shipyard.explain.service import build_explainer
from shipyard.server.protocols import kserve, native, oip
from shipyard.serving.dataplane import DataPlane
from shipyard.serving.model import ServedModel


def match(path: str) -> tuple[str, str] | None:
    """(protocol, deployment) for an explain path, else None."""
    parts = path.strip("/").split("/")
    if len(parts) == 4 and parts[:2] == ["v1", "deployments"] and parts[3] == "explain":
        return "native", parts[2]
    if len(parts) == 3 and parts[:2] == ["v1", "models"] and parts[2].endswith(":explain"):
        return "kserve", parts[2][: -len(":explain")]
    if len(parts) == 4 and parts[:2] == ["v2", "models"] and parts[3] == "explain":
        return "oip", parts[2]
    return None


def decode(protocol: str, payload: Any, model: ServedModel) -> list[list[Any]]:
    if protocol == "native":
        return native.decode(payload, model)
    if protocol == "kserve":
        return kserve.decode(payload, model)
    return oip.decode(payload, model)[0]


def encode(
    protocol: str,
    model: ServedModel,
    deployment: str,
    request_id: str,
    predictions: list[Any],
    explanations: list[dict[str, Any]],
) -> dict[str, Any]:
    if protocol == "kserve":
        return kserve.encode(predictions, explanations)
    if protocol == "oip":
        return oip.encode_explanations(
            deployment, str(model.version.version), request_id, predictions, explanations
        )
    return {
        "explanations": explanations,
        "predictions": predictions,
        "deployment": deployment,
        "model": model.version.name,
        "version": model.version.version,
        "request_id": request_id,
    }


def error(protocol: str, message: str, request_id: str) -> dict[str, Any]:
    if protocol == "kserve":
        return kserve.error(message)
    if protocol == "oip":
        return oip.error(message)
    return native.error(message, request_id)


class Explanations:
    """Explainers of the loaded versions (built once each) and the threads that run them."""

    def __init__(self, dataplane: DataPlane, *, threads: int = 1) -> None:
        self.dataplane = dataplane
        self.store = dataplane.routing.store
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="explain")
        self._explainers: dict[int, tuple[ServedModel, Explainer]] = {}
        self._lock = threading.Lock()

    def _explainer(self, model: ServedModel) -> Explainer:
        with self._lock:  # one build per version, even when requests race
            found = self._explainers.get(id(model))
            if found is not None and found[0] is model:
                return found[1]
            built = build_explainer(self.store, model.version, model.loaded)
            live = {id(m) for route in self.dataplane.routing.routes.values() for m in route.models}
            self._explainers = {k: v for k, v in self._explainers.items() if k in live}
            self._explainers[id(model)] = (model, built)
            return built

    def _run(self, model: ServedModel, rows: list[list[Any]]) -> tuple[list[Any], list[Any]]:
        if model.threads is not None:
            model.threads.apply()
        explanation = self._explainer(model).explain(model.validator.frame(rows))
        # The outputs already decide a classifier's label: one model call per request, not two.
        predictions = explanation.predicted(model.predictor.classes)
        if predictions is None:
            predictions = model.predict_rows(rows).predictions
        return predictions, explanation.to_rows()

    async def explain(
        self, model: ServedModel, rows: list[list[Any]]
    ) -> tuple[list[Any], list[dict[str, Any]]]:
        """(predictions, explanations) of ``rows`` by ``model``, computed off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, model, rows)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
