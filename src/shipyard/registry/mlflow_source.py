"""Model versions to and from MLflow clients talking to Shipyard's tracking API.

``register_mlflow_source`` turns what an MLflow client uploaded (a run's
``model/`` folder in 2.x, a logged model ``models:/m-...`` in 3.x) into an
ordinary Shipyard version of the ``mlflow`` flavor: the files are copied out of
the artifact store (hash-verified), checked for code that runs on load, and
registered through the same ``package_model``/``register_packaged`` as every
other version. ``mlmodel_for`` lets an MLflow client load a version that was
registered natively (scikit-learn saved with skops).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from shipyard.entities import ModelVersion, Run, RunArtifact
from shipyard.errors import InvalidInput, NotFound
from shipyard.flavors import MlflowModelDir
from shipyard.flavors.mlflow_model import MLMODEL, code_on_load, read_mlmodel
from shipyard.registry.service import package_model, register_packaged
from shipyard.store import Store, Tree
from shipyard.tracking.mlflow_artifacts import files_of, materialize, parse_location

#: Version tags recording where an MLflow client said the model came from.
SOURCE_TAG = "mlflow.source"
MODEL_ID_TAG = "mlflow.model_id"
_RUNS_URI = re.compile(r"runs:/([0-9a-f]{32})(?:/(.*))?")
_LOGGED_URI = re.compile(r"models:/(m-[0-9a-f]{32})/?")


def _source_files(
    store: Store, source: str, model_id: str | None
) -> tuple[list[RunArtifact], str, str | None]:
    """(files, folder within them, run id) of an MLflow model source."""
    logged = _LOGGED_URI.fullmatch(source)
    if logged or (model_id and not source.startswith(("mlflow-artifacts:", "runs:/"))):
        found = store.logged_models.get(logged[1] if logged else str(model_id))
        return store.logged_models.files(found.id), "", found.source_run_id
    runs = _RUNS_URI.fullmatch(source)
    if runs:
        run = store.tracking.get_run(runs[1])
        return list(run.artifacts), (runs[2] or "").strip("/"), run.id
    if source.startswith("mlflow-artifacts:"):
        location = parse_location(source)
        if location.kind == "version":
            raise InvalidInput("register a new version from a run or logged model, not a version")
        files = files_of(store, location)
        run_id = location.owner if location.kind == "run" else None
        if location.kind == "logged_model":
            run_id = store.logged_models.get(location.owner).source_run_id
        return files, location.relpath, run_id
    raise InvalidInput(
        f"model source {source!r} is not one Shipyard holds: use mlflow-artifacts:/..., "
        "runs:/RUN_ID/PATH or models:/m-..."
    )


def register_mlflow_source(
    store: Store,
    *,
    name: str,
    source: str,
    model_id: str | None = None,
    run_id: str | None = None,
    description: str = "",
    tags: dict[str, str] | None = None,
    trust: bool = False,
    untrusted_hint: str = "",
    actor: str,
) -> ModelVersion:
    """Register the MLflow model folder at ``source`` as the next version of ``name``.

    A model that runs code when loaded (pickle, cloudpickle, loader modules) is refused
    unless ``trust``; ``untrusted_hint`` says how the caller's interface allows it.
    """
    files, folder, source_run = _source_files(store, source, model_id)
    run: Run | None = None
    wanted_run = run_id or source_run
    if wanted_run:
        try:
            run = store.tracking.get_run(wanted_run)
        except NotFound:
            run = None
    with tempfile.TemporaryDirectory(prefix="shipyard-mlflow-") as temp:
        path = Path(temp)
        if materialize(store, files, folder, path) == 0 or not (path / MLMODEL).is_file():
            raise InvalidInput(f"no MLflow model (an MLmodel file) at {source!r}")
        why = code_on_load(read_mlmodel(path))
        if why is not None and not trust:
            raise InvalidInput(
                f"the MLflow model at {source!r} runs code when loaded: {why}. {untrusted_hint}"
            )
        packaged = package_model(store, MlflowModelDir(path, trust=trust), flavor="mlflow")
    version_tags = {SOURCE_TAG: source, **(tags or {})}
    if model_id or _LOGGED_URI.fullmatch(source):
        version_tags[MODEL_ID_TAG] = model_id or source.removeprefix("models:/").strip("/")
    return register_packaged(
        store,
        packaged,
        name=name,
        run=run,
        description=description,
        tags=version_tags,
        actor=actor,
    )


def mlmodel_for(version: ModelVersion, tree: Tree) -> bytes | None:
    """An ``MLmodel`` for a natively registered scikit-learn version saved with skops
    (MLflow 3's sklearn flavor loads skops files); None when MLflow could not load it."""
    if tree.has(MLMODEL):
        return None
    options = version.flavor_options
    if version.flavor != "sklearn" or options.get("serialization") != "skops":
        return None
    skops_file = "model.skops"
    if not tree.has(skops_file):
        return None
    spec: dict[str, Any] = {
        "artifact_path": "model",
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": skops_file,
                "predict_fn": "predict",
            },
            "sklearn": {
                "pickled_model": skops_file,
                "serialization_format": "skops",
                "skops_trusted_types": list(options.get("trusted_types") or []),
                "code": None,
            },
        },
        "metadata": {"shipyard_model": f"models:/{version.name}/{version.version}"},
    }
    return yaml.safe_dump(spec, sort_keys=False).encode()
