"""The in-memory routing table: deployment → the loaded version that answers.

No request touches the database. A watcher polls the store's revision number
(one tiny query every ``poll_interval_s``); when it moves, the table is
rebuilt: versions not loaded yet are loaded and warmed *before* the new table
is swapped in (one dict assignment), and a version that fails to load leaves
its deployment on the version that works. Replaced versions are closed after
a grace period, draining the requests they already accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from shipyard.deploy.policy import ServingConfig, policy_from_dict
from shipyard.entities import Deployment, ModelVersion
from shipyard.errors import ShipyardError
from shipyard.registry import service as registry
from shipyard.serving.metrics import ServingMetrics
from shipyard.serving.model import ServedModel
from shipyard.serving.threads import ModelThreads
from shipyard.serving.traffic import Route
from shipyard.store import Store
from shipyard.store.rollout_store import RolloutRecord

logger = logging.getLogger(__name__)


@dataclass
class RoutingTable:
    store: Store
    metrics: ServingMetrics
    poll_interval_s: float = 0.5
    close_grace_s: float = 2.0
    routes: dict[str, Route] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    #: Active rollouts by deployment, read with every rebuild (a rollout's step
    #: changes bump the revision); exported as metrics, never read per request.
    rollouts: dict[str, RolloutRecord] = field(default_factory=dict)
    revision: int = -1
    failure_retry_s: float = 10.0
    threads: ModelThreads | None = None
    #: Load only these deployments (a stream consumer serves one); None loads all.
    only: frozenset[str] | None = None
    _last_refresh: float = 0.0
    _models: dict[tuple[str, int, str, str], ServedModel] = field(default_factory=dict)
    _watcher: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # -- building ------------------------------------------------------------
    def _load(
        self,
        version: ModelVersion,
        config: ServingConfig,
        expectations: dict[str, Any] | None = None,
    ) -> ServedModel:
        started = time.perf_counter()
        try:
            loaded = registry.load_version(self.store, version)
            if self.threads is not None:
                self.threads.refresh()  # the model may have brought a thread pool of its own
            served = ServedModel(
                version, loaded, config, self.metrics, expectations, threads=self.threads
            )
            served.warm()
        except Exception:
            self.metrics.load_failures.labels(f"{version.name}/{version.version}").inc()
            raise
        self.metrics.load_time.labels(served.key).observe(time.perf_counter() - started)
        logger.info("loaded and warmed %s in %.2fs", version.uri, time.perf_counter() - started)
        return served

    def _route(self, deployment: Deployment, created: list[ServedModel]) -> Route:
        """Resolve every version the policy names, loading (and warming) the new ones."""
        policy = policy_from_dict(deployment.policy)
        config = ServingConfig.from_dict(deployment.config)
        dataset = deployment.config.get("expectations")
        expectations = self.store.datasets.expectations(dataset) if dataset else None
        models = []
        for ref in policy.targets:
            version = self.store.registry.get_version(
                ref.name, version=ref.version, alias=ref.alias
            )
            key = (version.name, version.version, repr(config), repr(expectations))
            served = self._models.get(key)
            if served is None:
                served = self._load(version, config, expectations)
                created.append(served)
                self._models[key] = served
            models.append(served)
        return Route.build(deployment, policy, tuple(models))

    def _build(self) -> tuple[int, dict[str, Route], list[ServedModel]]:
        """Blocking: read deployments, load what is new; returns the table to swap in."""
        revision = self.store.deployments.revision()
        routes: dict[str, Route] = {}
        created: list[ServedModel] = []
        self.failures = {}
        for deployment in self.store.deployments.list():
            if self.only is not None and deployment.name not in self.only:
                continue
            try:
                routes[deployment.name] = self._route(deployment, created)
            except (ShipyardError, Exception) as exc:  # keep serving what works
                self.failures[deployment.name] = f"{type(exc).__name__}: {exc}"
                logger.error("deployment %s: cannot load its target: %s", deployment.name, exc)
                old = self.routes.get(deployment.name)
                if old is not None:
                    routes[deployment.name] = old
        self.rollouts = {
            r.deployment: r
            for r in self.store.rollouts.active()
            if self.only is None or r.deployment in self.only
        }
        return revision, routes, created

    def _in_use(self, routes: dict[str, Route]) -> dict[int, ServedModel]:
        return {id(m): m for route in routes.values() for m in route.models}

    def load_initial(self) -> None:
        self.revision, self.routes, _ = self._build()
        self.metrics.models_loaded.set(len(self._in_use(self.routes)))

    async def refresh(self) -> None:
        async with self._lock:
            revision, routes, _ = await asyncio.to_thread(self._build)
            in_use = self._in_use(routes)
            retired = {k: m for k, m in self._in_use(self.routes).items() if k not in in_use}
            self.routes = routes  # the atomic switch
            self.revision = revision
            self._last_refresh = time.monotonic()
            self._models = {k: m for k, m in self._models.items() if id(m) in in_use}
            self.metrics.models_loaded.set(len(in_use))
            for model in retired.values():
                asyncio.get_running_loop().create_task(self._retire(model))

    async def _retire(self, model: ServedModel) -> None:
        await asyncio.sleep(self.close_grace_s)
        await model.close()
        logger.info("released %s", model.key)

    # -- watching ------------------------------------------------------------------
    def start_watching(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                revision = await asyncio.to_thread(self.store.deployments.revision)
                retry_failed = bool(self.failures) and (
                    time.monotonic() - self._last_refresh >= self.failure_retry_s
                )
                if revision != self.revision or retry_failed:
                    await self.refresh()
            except Exception as exc:  # a store hiccup must not stop serving
                logger.warning("routing refresh failed: %s", exc)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for model in self._in_use(self.routes).values():
            await model.close()

    @property
    def ready(self) -> bool:
        return not self.failures or all(name in self.routes for name in self.failures)
