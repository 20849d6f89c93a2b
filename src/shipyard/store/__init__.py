"""The one place that talks to the metadata database and the artifact store."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.config import StoreSettings
from shipyard.errors import StoreError
from shipyard.store import migrate
from shipyard.store.access_store import AccessStore
from shipyard.store.artifacts import ArtifactRef, ArtifactStore, Tree
from shipyard.store.batch_store import BatchStore
from shipyard.store.database import Database
from shipyard.store.dataset_store import DatasetStore
from shipyard.store.deploy_store import DeployStore
from shipyard.store.encryption import load_keyring
from shipyard.store.experiment_store import ExperimentStore
from shipyard.store.feedback_store import FeedbackStore
from shipyard.store.lease_store import LeaseStore
from shipyard.store.logged_model_store import LoggedModelStore
from shipyard.store.monitor_store import MonitorStore
from shipyard.store.pipeline_store import PipelineStore
from shipyard.store.registry_store import NewVersion, RegistryStore
from shipyard.store.rollout_store import RolloutStore
from shipyard.store.stats_store import StatsStore
from shipyard.store.stream_store import StreamConsumerStore
from shipyard.store.tracking_store import TrackingStore
from shipyard.store.webhook_store import EventFeed, WebhookStore

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
    rollouts: RolloutStore
    stats: StatsStore
    leases: LeaseStore
    webhooks: WebhookStore
    events: EventFeed
    feedback: FeedbackStore
    monitors: MonitorStore
    datasets: DatasetStore
    pipelines: PipelineStore
    access: AccessStore
    batch: BatchStore
    experiments: ExperimentStore
    logged_models: LoggedModelStore
    stream_consumers: StreamConsumerStore
    baked: ArtifactStore | None = None  # model trees baked into an image (read-only)

    def close(self) -> None:
        self.db.dispose()


def open_store(settings: StoreSettings) -> Store:
    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_db_url(), busy_timeout_s=settings.sqlite_busy_timeout_s)
    migrate.upgrade(db)
    keyring = load_keyring(settings.encryption_key_file, settings.encryption_read_key_files)
    artifacts = ArtifactStore(settings.resolved_artifacts_url(), keyring)
    registry = RegistryStore(db)
    return Store(
        settings,
        db,
        artifacts,
        TrackingStore(db),
        registry,
        DeployStore(db),
        RolloutStore(db, registry),
        StatsStore(db),
        LeaseStore(db),
        WebhookStore(db),
        EventFeed(db),
        FeedbackStore(db),
        MonitorStore(db),
        DatasetStore(db),
        PipelineStore(db),
        AccessStore(db),
        BatchStore(db),
        ExperimentStore(db),
        LoggedModelStore(db),
        StreamConsumerStore(db),
        _baked_store(settings),
    )


def _baked_store(settings: StoreSettings) -> ArtifactStore | None:
    """The image's baked model trees, if any: plaintext, read-only, verified on every read."""
    if settings.baked_models is None:
        return None
    if not settings.baked_models.is_dir():
        raise StoreError(
            f"SHIPYARD_BAKED_MODELS={settings.baked_models} is not a folder; "
            "unset it to fetch every model from the artifact store"
        )
    return ArtifactStore(str(settings.baked_models.resolve()))
