"""Registering, describing and loading model versions.

Order matters for crash safety: the flavor writes the model to a private
temporary folder, the files go into the content-addressed store (temp +
rename each), and only then does one transaction allocate the version number
and insert the row. A process killed at any point leaves, at worst, unused
artifact files: never a version row that points at missing bytes.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.entities import ModelVersion, Run
from shipyard.errors import (
    IntegrityError,
    InvalidInput,
    InvalidURI,
    NotFound,
    Remedy,
    SignatureError,
    StoreError,
)
from shipyard.flavors import MlflowModelDir, flavor_for, get_flavor
from shipyard.flavors.base import Flavor, LoadContext
from shipyard.flavors.mlflow_model import check_trusted, read_mlmodel
from shipyard.names import check_name
from shipyard.registry.card import render_card
from shipyard.registry.loaded import LoadedModel
from shipyard.registry.uri import ModelRef
from shipyard.signature import Signature, signature_of_frame, to_frame
from shipyard.store import NewVersion, Store
from shipyard.store.audit import now_ms

logger = logging.getLogger(__name__)


DESCRIPTOR = "shipyard-model.json"
DESCRIPTOR_KIND = "shipyard.model/v1"
#: Version tag naming the version this one was made from (``models:/NAME/V``).
DERIVED_FROM_TAG = "shipyard.derived_from"
#: Version tag holding the JSON reports ``shipyard optimize`` registered the version on.
OPTIMIZE_TAG = "shipyard.optimize"


@dataclass(frozen=True)
class PackagedModel:
    """A model saved into the artifact store with everything needed to register it."""

    flavor: str
    sha256: str
    size: int
    signature: Signature
    options: dict[str, Any]
    requirements: list[str]


def package_model(
    store: Store,
    model: Any,
    *,
    sample_input: Any = None,
    flavor: str | None = None,
    flavor_options: dict[str, Any] | None = None,
    signature: Signature | None = None,
) -> PackagedModel:
    """Save ``model`` (plus a descriptor) as a content-addressed tree; nothing is registered.

    A known ``signature`` (inputs and outputs, e.g. a converted model's source's) is
    used as it is instead of being inferred.
    """
    chosen = get_flavor(flavor) if flavor else flavor_for(model)
    if flavor and not chosen.can_save(model):
        raise InvalidInput(
            f"flavor {flavor!r} cannot save an object of type {type(model).__name__}"
        )
    frame: Any = None
    if signature is None:
        signature, frame = _input_signature(chosen, model, sample_input)
    options = dict(flavor_options or {})
    with tempfile.TemporaryDirectory(prefix="shipyard-register-") as temp:
        folder = Path(temp)
        saved_options = chosen.save(model, folder, options)
        if frame is not None:
            outputs = chosen.describe_outputs(model, folder, saved_options, frame, signature)
            signature = signature.with_outputs(outputs)
        requirements = chosen.requirements(model, saved_options)
        (folder / DESCRIPTOR).write_text(
            json.dumps(
                {
                    "kind": DESCRIPTOR_KIND,
                    "flavor": chosen.name,
                    "options": saved_options,
                    "signature": signature.to_dict(),
                    "requirements": requirements,
                },
                sort_keys=True,
            )
        )
        ref = store.artifacts.put_tree(folder)
    return PackagedModel(chosen.name, ref.sha256, ref.size, signature, saved_options, requirements)


#: Types a skops file may be trusted with when it arrives from someone else.
SAFE_SKOPS_PREFIXES = ("sklearn.", "numpy.", "scipy.")


def runs_code(store: Store, packaged: PackagedModel) -> bool:
    """Whether loading this package runs code its author chose (pickle, cloudpickle,
    a Python model, a loader module), as opposed to reading data (skops holding
    library types only, ONNX). Decided from the stored files, not the uploader's word."""
    options = packaged.options
    if packaged.flavor == "pyfunc" or options.get("serialization") == "joblib":
        return True
    if packaged.flavor == "mlflow":
        import yaml

        from shipyard.flavors.mlflow_model import MLMODEL, code_on_load

        tree = store.artifacts.open_tree(packaged.sha256)
        if not tree.has(MLMODEL) or code_on_load(yaml.safe_load(tree.read_bytes(MLMODEL))):
            return True
    trusted = [*options.get("trusted_types", []), *options.get("skops_trusted_types", [])]
    return any(not str(name).startswith(SAFE_SKOPS_PREFIXES) for name in trusted)


def read_package(store: Store, sha256: str) -> PackagedModel:
    """The descriptor of a stored model tree (hash-verified)."""
    tree = store.artifacts.open_tree(sha256)
    if not tree.has(DESCRIPTOR):
        raise InvalidInput(f"artifact {sha256} is not a logged model (no {DESCRIPTOR})")
    data = json.loads(tree.read_bytes(DESCRIPTOR))
    if data.get("kind") != DESCRIPTOR_KIND:
        raise InvalidInput(f"artifact {sha256} has an unknown model descriptor")
    size = sum(int(entry["size"]) for entry in tree.files.values())
    return PackagedModel(
        data["flavor"],
        sha256,
        size,
        Signature.from_dict(data["signature"]),
        dict(data["options"]),
        list(data["requirements"]),
    )


def register_version(
    store: Store,
    model: Any,
    *,
    name: str,
    sample_input: Any = None,
    run: Run | None = None,
    flavor: str | None = None,
    flavor_options: dict[str, Any] | None = None,
    description: str = "",
    tags: dict[str, str] | None = None,
    actor: str,
) -> ModelVersion:
    check_name(name)
    packaged = package_model(
        store, model, sample_input=sample_input, flavor=flavor, flavor_options=flavor_options
    )
    return register_packaged(
        store, packaged, name=name, run=run, description=description, tags=tags, actor=actor
    )


def register_packaged(
    store: Store,
    packaged: PackagedModel,
    *,
    name: str,
    run: Run | None = None,
    description: str = "",
    tags: dict[str, str] | None = None,
    derived: dict[str, Any] | None = None,
    actor: str,
) -> ModelVersion:
    """One transaction: the next version number of ``name`` for an already stored model.

    ``derived`` describes the version this one was made from (its URI under ``source``,
    and how: parity, latency), for the model card.
    """
    check_name(name)
    metrics = dict(run.metrics) if run is not None else {}
    created_at = now_ms()

    def card(number: int) -> str:
        return render_card(
            name=name,
            version=number,
            flavor=packaged.flavor,
            sha256=packaged.sha256,
            size=packaged.size,
            signature=packaged.signature,
            requirements=packaged.requirements,
            metrics=metrics,
            run=run,
            description=description,
            created_at=created_at,
            created_by=actor,
            derived=derived,
        )

    new = NewVersion(
        flavor=packaged.flavor,
        sha256=packaged.sha256,
        size=packaged.size,
        signature=packaged.signature,
        flavor_options=packaged.options,
        run_id=run.id if run is not None else None,
        metrics=metrics,
        requirements=packaged.requirements,
        description=description,
        tags=dict(tags or {}),
    )
    version = store.registry.create_version(name, new, actor=actor, card=card)
    logger.info("registered %s (%s, sha256 %s)", version.uri, packaged.flavor, packaged.sha256[:12])
    return version


def register_logged(
    store: Store,
    uri: str,
    *,
    name: str,
    description: str = "",
    tags: dict[str, str] | None = None,
    actor: str,
) -> ModelVersion:
    """Register a model logged with a run (``runs:/ID/ARTIFACT``) without re-saving it."""
    match = re.fullmatch(r"runs:/([0-9a-f]{32})/([^/]+)", uri)
    if match is None:
        raise InvalidURI(uri, "expected runs:/RUN_ID/ARTIFACT (from run.log_model)")
    run = store.tracking.get_run(match.group(1))
    path = f"models/{match.group(2)}"
    artifact = next((a for a in run.artifacts if a.path == path), None)
    if artifact is None:
        raise NotFound(f"run {run.id} has no logged model {match.group(2)!r}")
    return register_packaged(
        store,
        read_package(store, artifact.sha256),
        name=name,
        run=run,
        description=description,
        tags=tags,
        actor=actor,
    )


_SAMPLE = Remedy("pass a few rows of the training data", "sample_input", "X_test[:50]")


def _input_signature(flavor: Flavor, model: Any, sample_input: Any) -> tuple[Signature, Any]:
    """The input signature and the sample as a frame (None when there is no sample).

    In order: the caller's sample, the signature the model declares, rows saved
    with the model. The error names the argument as a remedy so that each
    interface can spell it its own way (``sample_input=``, ``--sample-input``).
    """
    if sample_input is None:
        own = flavor.signature_from_model(model)
        if own is not None:
            return own, None
        sample_input = flavor.example_input(model)
    if sample_input is None:
        raise SignatureError(
            f"a {flavor.name} model needs a sample input to infer its signature "
            "(it declares none and names no inputs)",
            remedy=_SAMPLE,
        )
    frame, kind = to_frame(sample_input)
    signature = signature_of_frame(frame, kind)
    frame.columns = [str(c) for c in frame.columns]
    return signature, frame


def import_mlflow_model(
    store: Store,
    path: Path,
    *,
    name: str,
    sample_input: Any = None,
    trust: bool = False,
    actor: str,
) -> ModelVersion:
    """Register an existing MLflow model folder as a new version of ``name``.

    ``trust`` allows a model that runs code from the folder when loaded (pickles,
    loader modules); without it such a model is refused before anything is written.
    """
    model = MlflowModelDir(path, trust=trust)
    check_trusted(model, read_mlmodel(path))  # fail early, before anything is written
    return register_version(
        store,
        model,
        name=name,
        sample_input=sample_input,
        flavor="mlflow",
        actor=actor,
        description=f"Imported from the MLflow model at {path}",
    )


def resolve(store: Store, ref: ModelRef) -> ModelVersion:
    return store.registry.get_version(ref.name, version=ref.version, alias=ref.alias)


def load_version(store: Store, version: ModelVersion) -> LoadedModel:
    """Load a version's verified files through its flavor: from the image's baked trees
    when this version is baked there and intact, else from the artifact store."""
    flavor = get_flavor(version.flavor)
    context = LoadContext(cache_dir=store.settings.cache_dir())
    baked = _load_baked(store, version, flavor, context)
    if baked is not None:
        return baked
    tree = store.artifacts.open_tree(version.sha256)
    predictor = flavor.load(tree, dict(version.flavor_options), context)
    return LoadedModel(version, predictor)


def _load_baked(
    store: Store, version: ModelVersion, flavor: Flavor, context: LoadContext
) -> LoadedModel | None:
    """The version loaded from its baked copy, or None (not baked, or the copy is corrupt).

    Every baked file is hash-checked as it is read (the same verified reads as the
    store's), so a corrupt copy raises before a predictor exists; it is refused and
    logged, and the caller fetches the version from the artifact store instead.
    """
    if store.baked is None or not store.baked.exists(version.sha256):
        return None
    try:
        tree = store.baked.open_tree(version.sha256)
        predictor = flavor.load(tree, dict(version.flavor_options), context)
    except (IntegrityError, StoreError) as exc:
        logger.error(
            "refusing the baked copy of %s (tree %s): %s; fetching it from the artifact store",
            version.uri,
            version.sha256,
            exc,
        )
        return None
    logger.info("loaded %s from its baked tree %s", version.uri, version.sha256)
    return LoadedModel(version, predictor)
