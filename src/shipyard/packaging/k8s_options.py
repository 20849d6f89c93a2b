"""What ``shipyard k8s`` can be told: one frozen record, checked once."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from shipyard import __version__
from shipyard.errors import InvalidInput

#: Where the workspace's encryption key (a Secret volume) is mounted, read-only.
KEY_DIR = "/etc/shipyard/keys"
#: The image's serving process drains this long on SIGTERM unless told otherwise.
DEFAULT_DRAIN_S = 30
#: Seconds the preStop hook waits, so that endpoints controllers and load balancers
#: stop sending new requests before the server starts draining.
PRESTOP_S = 10
#: Room after the drain for the server's shutdown: controllers, the prediction log's
#: last segment, batchers (already empty by then).
SHUTDOWN_MARGIN_S = 15
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CRON = re.compile(r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$")


@dataclass(frozen=True)
class K8sOptions:
    """Everything the manifests depend on besides the deployment itself."""

    image: str = f"shipyard:{__version__}"
    replicas: int = 2
    max_replicas: int | None = None  # default: 4 x replicas
    namespace: str | None = None
    kserve: bool = False
    cpu_request: str = "500m"
    cpu_limit: str = "1"
    memory_request: str = "1Gi"
    memory_limit: str = "1Gi"
    target_cpu_percent: int = 70
    startup_timeout_s: int = 300
    drain_s: int = DEFAULT_DRAIN_S
    secret: str = "shipyard"
    encryption_secret: str | None = None  # a Secret with the workspace key file as `key`
    artifacts_url: str | None = None
    open_metrics: bool = True
    service_monitor: bool = False
    worker: bool = True
    batch: bool = True
    batch_input: str = "s3://YOUR-BUCKET/batch/input/"
    batch_output: str = "s3://YOUR-BUCKET/batch/output/"
    batch_schedule: str = "0 2 * * *"
    stream: str | None = None
    stream_group: str | None = None
    stream_replicas: int = 1

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise InvalidInput(f"--replicas must be at least 1, got {self.replicas}")
        if self.max_replicas is not None and self.max_replicas < self.replicas:
            raise InvalidInput(
                f"--max-replicas ({self.max_replicas}) is below --replicas ({self.replicas})"
            )
        for option, value in (
            ("--cpu-request", self.cpu_request),
            ("--cpu-limit", self.cpu_limit),
            ("--memory-request", self.memory_request),
            ("--memory-limit", self.memory_limit),
        ):
            if not _QUANTITY.fullmatch(value):
                raise InvalidInput(f"{option} {value!r} is not a Kubernetes quantity (500m, 2Gi)")
        if not 1 <= self.target_cpu_percent <= 100:
            raise InvalidInput("--target-cpu must be a percentage from 1 to 100")
        if self.startup_timeout_s < 10 or self.drain_s < 1 or self.stream_replicas < 1:
            raise InvalidInput("--startup-timeout >= 10 s, --drain >= 1 s, stream replicas >= 1")
        for option, name in (
            ("--namespace", self.namespace),
            ("--secret", self.secret),
            ("--encryption-key-secret", self.encryption_secret),
        ):
            if name is not None and not _DNS_LABEL.fullmatch(name):
                raise InvalidInput(f"{option} {name!r} is not a DNS-1123 label (a-z, 0-9, -)")
        if not self.image.strip() or any(c.isspace() for c in self.image):
            raise InvalidInput(f"--image {self.image!r} is not an image reference")
        if not _CRON.fullmatch(self.batch_schedule.strip()):
            raise InvalidInput(f"--batch-schedule {self.batch_schedule!r} is not a cron schedule")
        if self.artifacts_url is not None and has_credentials(self.artifacts_url):
            raise InvalidInput(
                "--artifacts-url carries credentials; it would be written into a ConfigMap. "
                "Put SHIPYARD_ARTIFACTS_URL in the Secret instead and omit --artifacts-url"
            )

    @property
    def hpa_max(self) -> int:
        return self.max_replicas if self.max_replicas is not None else 4 * self.replicas

    @property
    def grace_s(self) -> int:
        """terminationGracePeriodSeconds: the preStop wait, the drain, and the shutdown."""
        return PRESTOP_S + self.drain_s + SHUTDOWN_MARGIN_S


def has_credentials(url: str) -> bool:
    """A URL with a user, password or a query (fsspec options such as keys)."""
    parts = urllib.parse.urlsplit(url)
    return bool(parts.username or parts.password or parts.query)


def is_cluster_url(url: str | None) -> bool:
    """An artifact URL a pod can reach (an object store), not a path on this machine."""
    if not url or "://" not in url:
        return False
    return urllib.parse.urlsplit(url).scheme not in ("file", "local", "memory")
