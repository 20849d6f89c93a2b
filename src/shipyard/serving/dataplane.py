"""The data plane: one core that every protocol adapter calls.

Per request: the deployment's route (a dict read), the arm its policy picks,
the model call through that model's batcher, the per-version counters, and
- off the response path - mirrored calls for shadows and canary comparisons.
A mirror that would exceed the pending limit, times out or fails is dropped
and counted; the answer never waits for it. Counters are flushed to the
store every second so that rollout analysis sees every process's traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from shipyard.errors import DeploymentNotFound, ShipyardError
from shipyard.monitoring.predlog import PredictionLogger
from shipyard.serving.batching import BatcherClosed
from shipyard.serving.model import PredictionOutput, ServedModel
from shipyard.serving.routing import RoutingTable
from shipyard.serving.stats import StatsRecorder
from shipyard.serving.traffic import Route

logger = logging.getLogger(__name__)


class DeploymentNotReady(ShipyardError):
    """The deployment exists but its model is not loaded (yet, or it failed to load)."""

    def __init__(self, name: str, reason: str | None) -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"deployment {name!r} is not ready{detail}")
        self.name = name


class ModelFailed(ShipyardError):
    """The model raised while predicting; the server keeps serving.

    ``str()`` has the model's own message, for the log; ``public`` only the model and
    the exception type, for response bodies: a model's message can hold file paths,
    data or SQL that the caller must not see.
    """

    def __init__(self, key: str, cause: BaseException) -> None:
        super().__init__(f"model {key} failed: {type(cause).__name__}: {cause}")
        self.public = f"model {key} failed: {type(cause).__name__}"


@dataclass(frozen=True)
class Answer:
    model: ServedModel
    output: PredictionOutput
    arm: str


class DataPlane:
    def __init__(
        self,
        routing: RoutingTable,
        *,
        max_pending_mirrors: int = 256,
        flush_interval_s: float = 1.0,
        predlog: PredictionLogger | None = None,
    ) -> None:
        self.routing = routing
        self.predlog = predlog
        self.stats = StatsRecorder()
        self.process_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.max_pending_mirrors = max_pending_mirrors
        self.flush_interval_s = flush_interval_s
        self._pending_mirrors: set[asyncio.Task[None]] = set()
        self._flusher: asyncio.Task[None] | None = None

    # -- lookup ----------------------------------------------------------------
    def route(self, deployment: str) -> Route:
        route = self.routing.routes.get(deployment)
        if route is not None:
            return route
        if deployment in self.routing.failures:
            raise DeploymentNotReady(deployment, self.routing.failures[deployment])
        raise DeploymentNotFound(deployment)

    def model(self, deployment: str) -> ServedModel:
        """The model requests to ``deployment`` are validated against."""
        return self.route(deployment).primary

    # -- predict ---------------------------------------------------------------
    async def predict(
        self,
        deployment: str,
        rows: list[list[Any]],
        *,
        key: str | None = None,
        route: Route | None = None,
        request_id: str = "",
    ) -> Answer:
        route = route or self.route(deployment)
        index = route.pick(key)
        model = route.models[index]
        started = time.perf_counter()
        try:
            try:
                output = await model.predict(rows)
            except BatcherClosed:
                # The version was swapped out between lookup and submit: use the new table.
                route = self.route(deployment)
                index = route.pick(key)
                model = route.models[index]
                output = await model.predict(rows)
        except ShipyardError:
            self.stats.version(deployment, model.version.version).record_error()
            raise
        except Exception as exc:
            self.stats.version(deployment, model.version.version).record_error()
            raise ModelFailed(model.key, exc) from exc
        latency = time.perf_counter() - started
        self.stats.version(deployment, model.version.version).record(
            latency, output.predictions, output.probabilities
        )
        if self.predlog is not None:
            self._log(
                deployment,
                route,
                model,
                route.labels[index],
                request_id,
                latency,
                rows,
                output,
                key,
            )
        for other in route.mirrors.get(index, ()):
            self._mirror(deployment, route, index, other, rows, output, request_id)
        return Answer(model, output, route.labels[index])

    def _log(
        self,
        deployment: str,
        route: Route,
        model: ServedModel,
        arm: str,
        request_id: str,
        latency: float,
        rows: list[list[Any]],
        output: PredictionOutput,
        key: str | None = None,
    ) -> None:
        """Hand the prediction log what the model call already built (array views of the
        batch), falling back to the validated rows and the response lists; with the A/B
        key, which the log keeps hashed as the experiment's unit."""
        assert self.predlog is not None
        self.predlog.log(
            deployment,
            model.version.version,
            arm,
            request_id,
            latency,
            model.validator.columns,
            output.inputs if output.inputs is not None else rows,
            output.label_array if output.label_array is not None else output.predictions,
            output.proba_array if output.proba_array is not None else output.probabilities,
            route.log_policy,
            key if route.key_source is not None else None,
        )

    def _mirror(
        self,
        deployment: str,
        route: Route,
        answered: int,
        other: int,
        rows: list[list[Any]],
        output: PredictionOutput,
        request_id: str = "",
    ) -> None:
        """Compare ``route.models[other]`` with the answer, without delaying it.

        Pair statistics are keyed (newer version, reference version): for a
        shadow the shadow against the primary, for a canary the new arm
        against the baseline.
        """
        is_shadow = answered == 0
        subject, reference = (other, answered) if is_shadow else (answered, other)
        pair = self.stats.pair(
            deployment,
            route.models[subject].version.version,
            route.models[reference].version.version,
        )
        if len(self._pending_mirrors) >= self.max_pending_mirrors:
            pair.dropped += 1
            return
        task = asyncio.get_running_loop().create_task(
            self._compare(
                deployment,
                route,
                route.models[other],
                rows,
                output,
                is_shadow,
                route.models[subject].version.version,
                route.models[reference].version.version,
                f"shadow:{route.labels[other]}" if is_shadow else "",
                request_id,
            )
        )
        self._pending_mirrors.add(task)
        task.add_done_callback(self._pending_mirrors.discard)

    async def _compare(
        self,
        deployment: str,
        route: Route,
        model: ServedModel,
        rows: list[list[Any]],
        answer: PredictionOutput,
        is_shadow: bool,
        subject: int,
        reference: int,
        shadow_arm: str = "",
        request_id: str = "",
    ) -> None:
        started = time.perf_counter()
        try:
            mirrored = await asyncio.wait_for(model.predict(rows), route.shadow_timeout_s)
        except Exception as exc:  # slow or failing mirror: dropped and counted
            self.stats.pair(deployment, subject, reference).dropped += 1
            if is_shadow:
                self.stats.version(deployment, model.version.version).record_error()
            logger.debug("mirror to %s dropped: %s", model.key, exc)
            return
        if is_shadow:
            latency = time.perf_counter() - started
            self.stats.version(deployment, model.version.version).record(
                latency, mirrored.predictions, mirrored.probabilities
            )
            if self.predlog is not None:
                self._log(deployment, route, model, shadow_arm, request_id, latency, rows, mirrored)
        new, old = (mirrored, answer) if is_shadow else (answer, mirrored)
        self.stats.pair(deployment, subject, reference).record(
            new.predictions,
            old.predictions,
            new.probabilities,
            old.probabilities,
            new.predictions,
            old.predictions,
        )

    # -- statistics flushing ---------------------------------------------------
    def start_flushing(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())

    async def flush(self) -> None:
        rows = self.stats.snapshot()
        if rows:
            await asyncio.to_thread(self.routing.store.stats.write, self.process_id, rows)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
            except Exception as exc:  # statistics must never break serving
                logger.warning("could not flush serving statistics: %s", exc)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for task in list(self._pending_mirrors):
            task.cancel()
        with contextlib.suppress(Exception):
            await self.flush()

    @property
    def ready(self) -> bool:
        return self.routing.ready

    def deployments(self) -> list[str]:
        return sorted(self.routing.routes)
