"""The data plane: one core that every protocol adapter calls.

Lookup of the deployment's current model (a dict read), the model call
through its batcher, and the outcome. Protocols only decode requests into
rows and encode outputs.
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import DeploymentNotFound, ShipyardError
from shipyard.serving.batching import BatcherClosed
from shipyard.serving.model import PredictionOutput, ServedModel
from shipyard.serving.routing import RoutingTable


class DeploymentNotReady(ShipyardError):
    """The deployment exists but its model is not loaded (yet, or it failed to load)."""

    def __init__(self, name: str, reason: str | None) -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"deployment {name!r} is not ready{detail}")
        self.name = name


class ModelFailed(ShipyardError):
    """The model raised while predicting; the server keeps serving."""


class DataPlane:
    def __init__(self, routing: RoutingTable) -> None:
        self.routing = routing

    def model(self, deployment: str) -> ServedModel:
        route = self.routing.routes.get(deployment)
        if route is not None:
            return route.model
        if deployment in self.routing.failures:
            raise DeploymentNotReady(deployment, self.routing.failures[deployment])
        raise DeploymentNotFound(deployment)

    async def predict(
        self, deployment: str, rows: list[list[Any]], model: ServedModel | None = None
    ) -> tuple[ServedModel, PredictionOutput]:
        served = model or self.model(deployment)
        try:
            return served, await served.predict(rows)
        except BatcherClosed:
            # The version was swapped out between lookup and submit: use the new one.
            served = self.model(deployment)
            return served, await served.predict(rows)
        except ShipyardError:
            raise
        except Exception as exc:
            raise ModelFailed(f"model {served.key} failed: {type(exc).__name__}: {exc}") from exc

    @property
    def ready(self) -> bool:
        return self.routing.ready

    def deployments(self) -> list[str]:
        return sorted(self.routing.routes)
