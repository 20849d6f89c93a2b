"""The ``shipyard.Client`` methods that write Kubernetes manifests.

Generating manifests only reads the deployment (``get_deployment``, an operation),
so it works on both back ends: through a server, the files are written here, on
the caller's machine, and no route is needed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import InvalidInput
from shipyard.packaging.k8s import Manifest, build_manifests, write_manifests
from shipyard.packaging.k8s_options import K8sOptions, has_credentials, is_cluster_url

if TYPE_CHECKING:
    from shipyard.config import StoreSettings
    from shipyard.entities import Deployment
    from shipyard.sdk.remote import RemoteBackend


class KubernetesMethods:
    settings: StoreSettings
    _remote: RemoteBackend | None

    if TYPE_CHECKING:

        def get_deployment(self, name: str) -> Deployment: ...

    def kubernetes_manifests(
        self, deployment: str, options: K8sOptions | None = None
    ) -> list[Manifest]:
        """The objects that run ``deployment`` on Kubernetes (``docs/kubernetes.md``).

        Without ``options.artifacts_url``, a direct client whose store keeps artifacts in
        an object store (``s3://...``, no credentials in the URL) puts that URL in the
        ConfigMap, since every replica must share it; otherwise the pods read
        ``SHIPYARD_ARTIFACTS_URL`` from the Secret. A direct client on an encrypted
        workspace refuses to write manifests whose pods could not read its artifacts.
        """
        record = self.get_deployment(deployment)
        options = options or K8sOptions()
        if (
            self._remote is None
            and self.settings.encryption_key_file is not None
            and options.encryption_secret is None
        ):
            raise InvalidInput(
                "this workspace encrypts its artifacts, so every pod needs the key: create "
                "a Secret holding it (kubectl create secret generic shipyard-key "
                "--from-file=key=KEYFILE) and pass encryption_secret (--encryption-key-secret)"
            )
        local_url = self.settings.artifacts_url if self._remote is None else None
        if (
            options.artifacts_url is None
            and local_url is not None
            and is_cluster_url(local_url)
            and not has_credentials(local_url)
        ):
            options = dataclasses.replace(options, artifacts_url=local_url)
        return build_manifests(record, options)

    def write_kubernetes_manifests(
        self, deployment: str, out: str | Path, options: K8sOptions | None = None
    ) -> list[Manifest]:
        """Write ``kubernetes_manifests`` as YAML under ``out`` (each at ``out / m.path``)."""
        manifests = self.kubernetes_manifests(deployment, options)
        write_manifests(manifests, Path(out), deployment)
        return manifests
