"""Where an MLflow artifact path points, and reading and writing files there.

The MLflow client uploads and downloads through the tracking server when an
artifact location is ``mlflow-artifacts:/<path>``. Shipyard hands out three
kinds of path, so every byte goes through the same content-addressed,
hash-verified (and, when configured, encrypted) artifact store:

- ``<experiment id>/<run id>/artifacts/<file>``: a run's files (``RunArtifact``);
- ``<experiment id>/models/<m-id>/artifacts/<file>``: an MLflow 3 logged model's;
- ``registry/<model>/<version>/<file>``: a registered version's files (read only), so
  the MLflow client can load any Shipyard version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shipyard.entities import RunArtifact
from shipyard.errors import InvalidInput, NotFound
from shipyard.store import Store

SCHEME = "mlflow-artifacts:"
_RUN = re.compile(r"(\d+)/([0-9a-f]{32})/artifacts(?:/(.*))?")
_LOGGED = re.compile(r"(\d+)/models/(m-[0-9a-f]{32})/artifacts(?:/(.*))?")
_VERSION = re.compile(r"registry/([^/]+)/(\d+)(?:/(.*))?")


@dataclass(frozen=True)
class Location:
    """A parsed artifact path: whose files (``kind``, ``owner``) and which file or folder."""

    kind: str  # run | logged_model | version
    owner: str  # run id | m-id | model name
    relpath: str  # "" for the root
    experiment_id: int | None = None
    version: int | None = None


def run_artifact_uri(experiment_id: int, run_id: str) -> str:
    return f"{SCHEME}/{experiment_id}/{run_id}/artifacts"


def logged_model_artifact_uri(experiment_id: int, model_id: str) -> str:
    return f"{SCHEME}/{experiment_id}/models/{model_id}/artifacts"


def version_artifact_uri(name: str, version: int) -> str:
    return f"{SCHEME}/registry/{name}/{version}"


def parse_location(path: str) -> Location:
    """The location of a path (with or without the ``mlflow-artifacts:`` scheme)."""
    text = path.removeprefix(SCHEME).strip("/")
    if match := _RUN.fullmatch(text):
        return Location("run", match[2], _safe_relpath(match[3]), int(match[1]))
    if match := _LOGGED.fullmatch(text):
        return Location("logged_model", match[2], _safe_relpath(match[3]), int(match[1]))
    if match := _VERSION.fullmatch(text):
        return Location("version", match[1], _safe_relpath(match[3]), version=int(match[2]))
    raise NotFound(
        f"artifact path {path!r} is not a Shipyard artifact location "
        "(<experiment>/<run>/artifacts/..., <experiment>/models/<id>/artifacts/... "
        "or registry/<model>/<version>/...)"
    )


def _safe_relpath(relpath: str | None) -> str:
    if not relpath:
        return ""
    parts = PurePosixPath(relpath).parts
    if any(part in ("..", ".") for part in parts) or relpath.startswith("/") or "\\" in relpath:
        raise InvalidInput(f"artifact path {relpath!r} must be relative, without '..'")
    return "/".join(parts)


def files_of(store: Store, location: Location) -> list[RunArtifact]:
    """Every file (path relative to the owner's root, sha256, size) of the location's owner."""
    if location.kind == "run":
        run = store.tracking.get_run(location.owner)
        return list(run.artifacts)
    if location.kind == "logged_model":
        return store.logged_models.files(location.owner)
    assert location.version is not None
    version = store.registry.get_version(location.owner, version=location.version)
    tree = store.artifacts.open_tree(version.sha256)
    files = [
        RunArtifact(path, str(entry["sha256"]), int(entry["size"]))
        for path, entry in sorted(tree.files.items())
    ]
    return files


def put_file(store: Store, location: Location, source: Path, *, actor: str) -> RunArtifact:
    """Store ``source`` content-addressed and record it at the location (audited)."""
    if not location.relpath:
        raise InvalidInput("name the file to upload: the path ends at the artifact root")
    if location.kind == "version":
        raise InvalidInput("a registered version's files are immutable; upload to a run")
    # The bytes are stored first, then recorded (a missing owner leaves an unused object,
    # never a record pointing at missing bytes).
    if location.kind == "run":
        ref = store.artifacts.put_file(source)
        store.tracking.add_artifact(
            location.owner, location.relpath, ref.sha256, ref.size, actor=actor
        )
    else:
        store.logged_models.get(location.owner)
        ref = store.artifacts.put_file(source)
        store.logged_models.add_file(
            location.owner, location.relpath, ref.sha256, ref.size, actor=actor
        )
    return RunArtifact(location.relpath, ref.sha256, ref.size)


@dataclass(frozen=True)
class Listed:
    name: str  # the basename, as MLflow's list answers it
    is_dir: bool
    size: int | None


def list_folder(files: list[RunArtifact], relpath: str) -> list[Listed]:
    """The immediate children of ``relpath`` among ``files`` (folders first seen once)."""
    prefix = f"{relpath}/" if relpath else ""
    seen: dict[str, Listed] = {}
    for artifact in files:
        if not artifact.path.startswith(prefix) or artifact.path == relpath:
            continue
        rest = artifact.path[len(prefix) :]
        head, _, tail = rest.partition("/")
        if tail:
            seen.setdefault(head, Listed(head, True, None))
        else:
            seen[head] = Listed(head, False, artifact.size)
    return [seen[name] for name in sorted(seen)]


def find_file(files: list[RunArtifact], relpath: str) -> RunArtifact:
    for artifact in files:
        if artifact.path == relpath:
            return artifact
    raise NotFound(f"no artifact {relpath!r}")


def materialize(store: Store, files: list[RunArtifact], prefix: str, folder: Path) -> int:
    """Copy (verified) every file below ``prefix`` into ``folder``; returns how many."""
    start = f"{prefix}/" if prefix else ""
    count = 0
    for artifact in files:
        if not artifact.path.startswith(start):
            continue
        target = folder / artifact.path[len(start) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        store.artifacts.copy_to(artifact.sha256, target)
        count += 1
    return count
