"""``shipyard build``: a deployment's container build context, written to a folder.

The context is everything ``docker build`` needs and nothing it must not
see: a Dockerfile, a ``.dockerignore``, pinned ``requirements.txt``, Shipyard's
wheel, ``manifest.json`` and a README; with ``bake``, the model trees the
deployment routes to, as a small content-addressed store (``models/``) that the
serving process reads through the same verified reads as the artifact store.
Secrets never enter it: the database URL, tokens and keys are named in the
manifest (``env``) and come from the container's environment at run time.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.deploy.policy import policy_from_dict
from shipyard.entities import ModelVersion
from shipyard.errors import InvalidInput, ShipyardError
from shipyard.packaging import dockerfile
from shipyard.packaging.dockerfile import DockerfileSpec
from shipyard.packaging.requirements import PinnedRequirements, pin_requirements
from shipyard.packaging.wheel import build_wheel
from shipyard.registry import service as registry
from shipyard.store import ArtifactStore, Store

logger = logging.getLogger(__name__)

#: Variables the image reads; names only (values are the operator's, several are secret).
REQUIRED_ENV = ("SHIPYARD_DB_URL", "SHIPYARD_ARTIFACTS_URL")
OPTIONAL_ENV = (
    "SHIPYARD_MODEL_THREADS",
    "SHIPYARD_ENCRYPTION_KEY_FILE",
    "SHIPYARD_ENCRYPTION_READ_KEY_FILES",
    "SHIPYARD_TRUST_UPLOADED_CODE",
    "SHIPYARD_CA_BUNDLE",
)
WRITABLE_PATHS = (dockerfile.HOME, "/tmp")


@dataclass(frozen=True)
class BuildResult:
    """What was written, for the CLI and for scripts (``--json``)."""

    out: Path
    deployment: str
    mode: str  # "bake" or "fetch"
    versions: list[dict[str, Any]]
    requirements: list[str]
    wheel: str
    base_image: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "deployment": self.deployment,
            "mode": self.mode,
            "versions": self.versions,
            "requirements": len(self.requirements),
            "wheel": self.wheel,
            "base_image": self.base_image,
            "port": dockerfile.PORT,
            "user": dockerfile.USER,
        }


def build_context(store: Store, deployment: str, out: Path, *, bake: bool) -> BuildResult:
    """Write the build context for ``deployment`` into ``out`` (new or empty)."""
    versions = served_versions(store, deployment)
    if bake and store.artifacts.keyring is not None:
        raise ShipyardError(
            "this workspace encrypts its artifacts; --bake would write the models into the "
            "image as plaintext. Build with --fetch: the image then reads them from the store "
            "with the key it is given at run time"
        )
    pins = pin_requirements(versions)
    _prepare(out)
    try:
        return _write_context(store, deployment, out, versions, pins, bake=bake)
    except BaseException:
        for child in out.iterdir():  # it was empty: leave it so, not half a context
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        raise


def _write_context(
    store: Store,
    deployment: str,
    out: Path,
    versions: list[ModelVersion],
    pins: PinnedRequirements,
    *,
    bake: bool,
) -> BuildResult:
    (out / "requirements.txt").write_text("\n".join(pins.lines()) + "\n")
    wheel = build_wheel(out / "wheels")
    if bake:
        for version in versions:
            bake_tree(store.artifacts, ArtifactStore(str(out / "models")), version.sha256)
            logger.info("baked %s (tree %s)", version.uri, version.sha256)
    spec = DockerfileSpec(deployment=deployment, wheel=wheel.name, baked=bake)
    (out / "Dockerfile").write_text(dockerfile.render_dockerfile(spec))
    (out / ".dockerignore").write_text(dockerfile.DOCKERIGNORE)
    summary = [_describe(v) for v in versions]
    mode = "bake" if bake else "fetch"
    manifest: dict[str, Any] = {
        "kind": "shipyard.build/v1",
        "shipyard": importlib.metadata.version("shipyard"),
        "deployment": deployment,
        "mode": mode,
        "base_image": spec.base_image,
        "port": dockerfile.PORT,
        "user": dockerfile.USER,
        "command": dockerfile.CMD,
        "health": dockerfile.READY_PATH,
        "versions": summary,
        "requirements": pins.lines(),
        "pinned_by_versions": pins.from_versions,
        "wheel": f"wheels/{wheel.name}",
        "env": {"required": list(REQUIRED_ENV), "optional": list(OPTIONAL_ENV)},
        "writable_paths": list(WRITABLE_PATHS),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (out / "README.md").write_text(_readme(deployment, bake, summary))
    return BuildResult(out, deployment, mode, summary, pins.lines(), wheel.name, spec.base_image)


def served_versions(store: Store, deployment: str) -> list[ModelVersion]:
    """Every version the deployment's policy routes to now (shadows and all arms included),
    each once, aliases resolved."""
    record = store.deployments.get(deployment)
    found: dict[str, ModelVersion] = {}
    for ref in policy_from_dict(record.policy).targets:
        version = registry.resolve(store, ref)
        found.setdefault(version.uri, version)
    return list(found.values())


def bake_tree(source: ArtifactStore, baked: ArtifactStore, sha256: str) -> None:
    """Copy one model tree (its manifest and files, verified on read) into ``baked``."""
    tree = source.open_tree(sha256)
    for entry in tree.files.values():
        if not baked.exists(entry["sha256"]):
            baked.put_bytes(source.get_bytes(entry["sha256"]), sha256=entry["sha256"])
    baked.put_bytes(source.get_bytes(sha256), sha256=sha256)
    shutil.rmtree(Path(baked.root) / "tmp", ignore_errors=True)


def _prepare(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"--out {out} must be a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)


def _describe(version: ModelVersion) -> dict[str, Any]:
    return {
        "uri": version.uri,
        "flavor": version.flavor,
        "sha256": version.sha256,
        "requirements": list(version.requirements),
    }


def _readme(deployment: str, bake: bool, versions: list[dict[str, Any]]) -> str:
    listed = "\n".join(f"- {v['uri']} (tree sha256 {v['sha256']})" for v in versions)
    models = (
        "The models are baked in (`models/`, verified at load; a version not baked, or a "
        "corrupt copy, is fetched from the artifact store)."
        if bake
        else "The models are fetched from the artifact store when the server starts."
    )
    return f"""\
# Container for deployment `{deployment}`

Built by `shipyard build`. {models}

{listed}

    docker build -t {deployment}:latest .
    docker run -p {dockerfile.PORT}:{dockerfile.PORT} -e SHIPYARD_DB_URL=... \\
        -e SHIPYARD_ARTIFACTS_URL=... {deployment}:latest

Listens on port {dockerfile.PORT} as user {dockerfile.USER}; readiness at
`{dockerfile.READY_PATH}`. Required environment: {", ".join(REQUIRED_ENV)}; optional:
{", ".join(OPTIONAL_ENV)}. Writable paths: {", ".join(WRITABLE_PATHS)} (the root
filesystem may be read-only). No secret is stored here; see manifest.json.
"""
