"""The one place that talks to the metadata database and the artifact store."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.config import StoreSettings
from shipyard.store import migrate
from shipyard.store.artifacts import ArtifactRef, ArtifactStore, Tree
from shipyard.store.database import Database
from shipyard.store.deploy_store import DeployStore
from shipyard.store.registry_store import NewVersion, RegistryStore
from shipyard.store.tracking_store import TrackingStore

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "Database",
    "DeployStore",
    "NewVersion",
    "RegistryStore",
    "Store",
    "TrackingStore",
    "Tree",
    "open_store",
]


@dataclass
class Store:
    """A workspace's metadata and artifacts, ready to use (schema migrated)."""

    settings: StoreSettings
    db: Database
    artifacts: ArtifactStore
    tracking: TrackingStore
    registry: RegistryStore
    deployments: DeployStore

    def close(self) -> None:
        self.db.dispose()


def open_store(settings: StoreSettings) -> Store:
    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_db_url(), busy_timeout_s=settings.sqlite_busy_timeout_s)
    migrate.upgrade(db)
    artifacts = ArtifactStore(settings.resolved_artifacts_url())
    return Store(settings, db, artifacts, TrackingStore(db), RegistryStore(db), DeployStore(db))
