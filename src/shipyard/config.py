"""Typed settings, read from ``SHIPYARD_*`` environment variables.

One class per concern; each field says what it controls. Interfaces build a
settings object once and pass it down: nothing reads the environment later.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


class StoreSettings(BaseSettings):
    """Where a workspace keeps its metadata and artifacts."""

    model_config = SettingsConfigDict(env_prefix="SHIPYARD_", extra="ignore")

    home: Path = Field(
        default=Path(".shipyard"),
        description="Workspace folder; holds the SQLite file and local artifacts by default.",
    )
    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store, e.g. postgresql+psycopg://host/db. "
        "Default: SQLite file <home>/shipyard.db.",
    )
    artifacts_url: str | None = Field(
        default=None,
        description="fsspec URL of the artifact store (s3://bucket/prefix, file:///...). "
        "Default: the folder <home>/artifacts.",
    )
    user: str = Field(
        default_factory=_default_user,
        description="Who is acting; recorded in the audit trail.",
    )
    encryption_key_file: Path | None = Field(
        default=None,
        description="File holding the workspace's 256-bit key (one base64 line, made by "
        "`shipyard keys create`). When set, artifacts, dataset snapshots and prediction-log "
        "segments are written encrypted; unset, they are written as plaintext.",
    )
    encryption_read_key_files: str = Field(
        default="",
        description="Comma-separated key files that may open existing artifacts but never "
        "encrypt new ones: the previous key after a rotation, or the next one during it.",
    )
    trust_uploaded_code: bool = Field(
        default=False,
        description="Let clients of a server (the remote SDK, MLflow clients) register models "
        "that run code when loaded (pickle/joblib, pyfunc, MLflow 2's cloudpickle). Off: only "
        "formats that load as data (skops with scikit-learn/numpy/scipy types, ONNX) are "
        "registered through `shipyard serve`; the others get a 400 naming this setting.",
    )
    sqlite_busy_timeout_s: float = Field(
        default=60.0, description="How long a SQLite writer waits for the write lock."
    )
    baked_models: Path | None = Field(
        default=None,
        description="Read-only folder of model trees baked into a container image by "
        "`shipyard build --bake` (content-addressed like the artifact store). A version whose "
        "tree is there, intact, loads from it; any other version, or a baked copy that fails "
        "its hash check, is fetched from the artifact store.",
    )

    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.home.resolve() / 'shipyard.db'}"

    def resolved_artifacts_url(self) -> str:
        if self.artifacts_url:
            return self.artifacts_url
        return str(self.home.resolve() / "artifacts")

    def cache_dir(self) -> Path:
        """Local folder for verified copies of artifacts that need a real path."""
        return self.home.resolve() / "cache"


def user_cache_dir() -> Path:
    """Per-user cache (``$XDG_CACHE_HOME/shipyard``), shared by every workspace: trusted
    skops types, and a remote client's verified downloads."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shipyard"


def load_settings(home: str | os.PathLike[str] | None = None) -> StoreSettings:
    """Settings from the environment, with an explicit home taking precedence."""
    if home is not None:
        return StoreSettings(home=Path(home))
    return StoreSettings()


class ServerSettings(BaseSettings):
    """How ``shipyard serve`` listens and serves."""

    model_config = SettingsConfigDict(env_prefix="SHIPYARD_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8000, description="TCP port.")
    workers: int = Field(default=1, ge=1, description="Serving processes sharing the port.")
    auth: bool = Field(
        default=True,
        description="Require a token on every route but liveness/readiness "
        "(off only for local experiments on a loopback address).",
    )
    open_metrics: bool = Field(
        default=False, description="Serve /metrics without a token (for a Prometheus scraper)."
    )
    ui_session_key: SecretStr | None = Field(
        default=None,
        description="Key that signs dashboard session cookies; every replica must share it. "
        "Default: a random key kept in <home>/ui-session.key (shared by the workers "
        "of one machine).",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    max_rows_per_request: int = Field(
        default=10_000,
        ge=1,
        description="Most rows one predict request may carry (413 above); batch scoring is "
        "for more.",
    )
    poll_interval_s: float = Field(
        default=0.5, gt=0, description="How often each process checks the store for changes."
    )
    batch_roots: list[str] = Field(
        default=[],
        description="Folders (or URL prefixes) that batch jobs started over the API may read "
        "and write; default: the workspace's batch/ folder. The server never reads or writes "
        "a caller's path outside them.",
    )
    default_deployment: str | None = Field(
        default=None, description="The deployment that plain /invocations serves."
    )
    stats_flush_s: float = Field(
        default=1.0, gt=0, description="How often serving statistics are written to the store."
    )
    prediction_log: bool = Field(
        default=True, description="Log every served prediction to Parquet segments."
    )
    prediction_log_flush_s: float = Field(
        default=1.0, gt=0, description="How often the prediction log writes a segment."
    )
    controller_tick_s: float = Field(
        default=1.0, gt=0, description="How often the rollout controller evaluates rollouts."
    )
    controller_lease_s: float = Field(
        default=10.0,
        gt=0,
        description="Time to live of a controller's lease (rollouts, monitors, bandits): when "
        "the process running them dies, another replica takes over within this time. Shorter "
        "means faster failover and more lease writes; never less than three ticks.",
    )
    model_threads: int = Field(
        default=1, ge=1, description="Threads per model for libraries with OpenMP/BLAS pools."
    )
    explain_threads: int = Field(
        default=1, ge=1, description="Threads that compute explanations (apart from predicts)."
    )
    importance_interval_s: float = Field(
        default=600.0,
        gt=0,
        description="How often each deployment's global feature importance is checked for a "
        "recomputation from its prediction log.",
    )
    pipelines: bool = Field(
        default=True,
        description="Run the pipeline scheduler (triggers, schedules) and an executor here.",
    )
    pipeline_tick_s: float = Field(
        default=1.0, gt=0, description="How often triggers are checked and queued runs claimed."
    )
    tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain) to serve HTTPS with; needs tls_key."
    )
    tls_key: Path | None = Field(
        default=None, description="PEM private key of tls_cert (unencrypted; protect the file)."
    )
    tls_client_ca: Path | None = Field(
        default=None,
        description="PEM CA bundle for mutual TLS: clients must present a certificate it signed.",
    )
    graceful_shutdown_s: int = Field(
        default=30,
        ge=1,
        description="On SIGTERM, seconds the server waits for requests in flight before it "
        "closes their connections (uvicorn's graceful shutdown); a pod's "
        "terminationGracePeriodSeconds must be longer (`shipyard k8s` sets both).",
    )
    keep_alive_s: int = Field(
        default=5,
        ge=1,
        description="Seconds an idle keep-alive connection stays open (uvicorn's timeout).",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a request's head (slowloris guard).",
    )
    body_timeout_s: float = Field(
        default=60.0, gt=0, description="Seconds a client has to send a request's body."
    )

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def lease_ttl_s(self) -> float:
        """The controllers' lease: a renewal every tick keeps it well inside its time to live."""
        return max(self.controller_lease_s, 3 * self.controller_tick_s)


class HttpSettings(BaseSettings):
    """How Shipyard's own HTTP clients (webhooks, quickstart, the remote SDK) connect."""

    model_config = SettingsConfigDict(env_prefix="SHIPYARD_", extra="ignore")

    ca_bundle: Path | None = Field(
        default=None,
        description="PEM CA bundle that https:// servers are verified against. "
        "Default: the system's trust store.",
    )
    http_timeout_s: float = Field(
        default=10.0, gt=0, description="Connect/read/write timeout of one HTTP call."
    )


class RemoteSettings(BaseSettings):
    """A central server the SDK and CLI talk to instead of opening a store themselves."""

    model_config = SettingsConfigDict(env_prefix="SHIPYARD_", extra="ignore")

    url: str | None = Field(
        default=None,
        description="Base URL of a `shipyard serve` (https://host:8000). When set, the SDK "
        "and CLI go through its control API with SHIPYARD_TOKEN; no store settings are read.",
    )
    token: SecretStr | None = Field(
        default=None, description="API token (shp_...) sent as a bearer token to SHIPYARD_URL."
    )
    http_retries: int = Field(
        default=6,
        ge=0,
        description="How often a call that could not reach the server (connection lost, "
        "502/503/504) is retried, with exponential backoff (0.5 s doubling, at most 30 s).",
    )
    upload_chunk_bytes: int = Field(
        default=8 << 20,
        gt=0,
        description="Files larger than this are uploaded in resumable chunks of this size.",
    )
