"""Client methods that package a deployment for production (container contexts)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.packaging.container import BuildResult, build_context
from shipyard.sdk.operations import local_only

if TYPE_CHECKING:
    from shipyard.store import Store


class PackagingMethods:
    store: Store

    @local_only(
        "it writes a build context on this machine's disk, builds Shipyard's wheel from the "
        "source installed here and copies model trees straight from the artifact store"
    )
    def build_container(
        self, deployment: str, out: str | os.PathLike[str], *, bake: bool = False
    ) -> BuildResult:
        """Write a container build context for ``deployment`` into ``out`` (new or empty).

        ``bake``: copy the model trees it serves into the context (an immutable image per
        version); otherwise the image fetches them from the artifact store at start.
        """
        return build_context(self.store, deployment, Path(out), bake=bake)
