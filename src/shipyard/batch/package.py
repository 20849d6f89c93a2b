"""A model version packed to travel to batch workers, and loaded once per worker.

A Dask worker may not see the store, and a pickled estimator skips the hash
check that every load must pass. So what travels is the version's stored files
themselves (plaintext, keyed by their sha256): each worker puts them into a
private content-addressed folder, which re-hashes every file, and loads the
model through its flavor as the server does. The loaded model is cached per
process, so a worker deserializes and loads it once, however many partitions
it scores (dask-ml's ParallelPostFit shipped the estimator in every task).
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.entities import ModelVersion
from shipyard.errors import IntegrityError
from shipyard.flavors import get_flavor
from shipyard.flavors.base import LoadContext
from shipyard.registry.loaded import LoadedModel
from shipyard.store import Store
from shipyard.store.artifacts import ArtifactStore


@dataclass(frozen=True)
class ModelPackage:
    version: ModelVersion
    #: sha256 -> plaintext bytes: the tree manifest (under the version's sha) and its files.
    blobs: dict[str, bytes]
    #: Dataset expectations the deployment validates against, if it has any.
    expectations: dict[str, Any] | None = None

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.blobs.values())


def pack_version(
    store: Store, version: ModelVersion, expectations: dict[str, Any] | None = None
) -> ModelPackage:
    """Read (and verify) the version's files from the store."""
    manifest = store.artifacts.get_bytes(version.sha256)
    blobs = {version.sha256: manifest}
    for entry in json.loads(manifest)["files"].values():
        blobs[entry["sha256"]] = store.artifacts.get_bytes(entry["sha256"])
    return ModelPackage(version, blobs, expectations)


_loaded: dict[str, LoadedModel] = {}
_lock = threading.Lock()
_workdir: Path | None = None


def _private_dir() -> Path:
    global _workdir
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="shipyard-batch-model-"))
        atexit.register(shutil.rmtree, _workdir, True)
    return _workdir


def load_package(package: ModelPackage) -> LoadedModel:
    """The package's model, loaded (and hash-verified) once per process."""
    key = package.version.sha256
    with _lock:
        model = _loaded.get(key)
        if model is not None:
            return model
        root = _private_dir()
        artifacts = ArtifactStore(str(root / "store"))
        for sha256, data in package.blobs.items():
            actual = artifacts.put_bytes(data).sha256
            if actual != sha256:
                raise IntegrityError(f"{package.version.uri} (shipped file)", sha256, actual)
        tree = artifacts.open_tree(key)
        flavor = get_flavor(package.version.flavor)
        predictor = flavor.load(
            tree, dict(package.version.flavor_options), LoadContext(cache_dir=root / "cache")
        )
        model = LoadedModel(package.version, predictor)
        _loaded[key] = model
        return model
