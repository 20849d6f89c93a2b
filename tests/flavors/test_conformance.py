"""Conformance: every registered flavor saves, verifies, describes and reloads its models.

The cases are generated from ``shipyard.flavors.all_flavors()``; each flavor
needs at least one sample factory in ``FACTORIES`` below. A flavor registered
without one gets a case that fails, so adding a format forces adding its test.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow_dirs import LOADER_MODULE, write_loader_model, write_sklearn_model
from pyfunc_models import SCALE_FILE, ThresholdModel

import shipyard.flavors
from shipyard import Client, IntegrityError
from shipyard.flavors import MlflowModelDir, all_flavors, flavor_for
from shipyard.signature import Signature

SAMPLE_ROWS = 40
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][A-Za-z0-9.+!_-]*$")


@dataclass
class Sample:
    """A model of one flavor plus what it must predict once stored and reloaded."""

    model: Any  # what register_model receives
    X: pd.DataFrame  # rows to predict; the first SAMPLE_ROWS are the sample_input
    predict: Callable[[pd.DataFrame], np.ndarray]  # reference, computed outside Shipyard
    predict_proba: Callable[[pd.DataFrame], np.ndarray] | None
    payload: str  # a stored file the flavor must read (and verify) to load
    requirements: list[str]  # the exact list, or names that must be pinned (exact=False)
    exact_requirements: bool = False
    classes: tuple[Any, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ingredients:
    tmp_path: Path
    X: pd.DataFrame
    y: pd.Series
    pipeline: Any


def sklearn_pipeline(ing: Ingredients) -> Sample:
    pipe = ing.pipeline
    return Sample(
        model=pipe,
        X=ing.X,
        predict=pipe.predict,
        predict_proba=pipe.predict_proba,
        payload="model.skops",
        requirements=["scikit-learn", "skops", "numpy"],
        classes=(0, 1),
    )


def _onnx_sample(ing: Ingredients, *, zipmap: bool) -> Sample:
    import onnxruntime as ort
    from skl2onnx import to_onnx

    classifier = ing.pipeline[-1]
    options = None if zipmap else {id(classifier): {"zipmap": False}}
    proto = to_onnx(ing.pipeline, ing.X.to_numpy(np.float32)[:1], options=options)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run(frame: pd.DataFrame) -> list[Any]:
        return session.run(None, {input_name: frame.to_numpy(np.float32)})

    def proba(frame: pd.DataFrame) -> np.ndarray:
        scores = run(frame)[1]
        if isinstance(scores, list):  # ZipMap output: one {label: probability} per row
            return np.array([[row[0], row[1]] for row in scores])
        return np.asarray(scores)

    # The ONNX graph agrees with the scikit-learn model it came from (float32 aside).
    assert np.allclose(proba(ing.X), ing.pipeline.predict_proba(ing.X), atol=1e-4)
    assert isinstance(run(ing.X[:2])[1], list) is zipmap
    return Sample(
        model=proto,
        X=ing.X,
        predict=lambda frame: run(frame)[0],
        predict_proba=proba,
        payload="model.onnx",
        requirements=["onnxruntime", "onnx", "numpy"],
        classes=(0, 1),
    )


def onnx_zipmap(ing: Ingredients) -> Sample:
    return _onnx_sample(ing, zipmap=True)


def onnx_tensor(ing: Ingredients) -> Sample:
    return _onnx_sample(ing, zipmap=False)


def pyfunc_user_class(ing: Ingredients) -> Sample:
    artifacts = ing.tmp_path / "pyfunc-artifacts"
    artifacts.mkdir()
    (artifacts / SCALE_FILE).write_text(json.dumps({"scale": 0.5}))
    weights = {"mean radius": -1.0, "mean texture": -0.25}
    model = ThresholdModel(weights, threshold=-10.0)
    reference = ThresholdModel(weights, threshold=-10.0)
    reference.load(str(artifacts))  # what the stored model sees after load()
    assert 0 < reference.predict(ing.X).mean() < 1  # both classes occur
    assert not np.array_equal(model.predict(ing.X), reference.predict(ing.X))
    return Sample(
        model=model,
        X=ing.X,
        predict=reference.predict,
        predict_proba=reference.predict_proba,
        payload="python_model.pkl",
        requirements=["cloudpickle", "numpy", "pandas"],
        classes=(0, 1),
        options={"artifacts": str(artifacts)},
    )


def mlflow_sklearn(ing: Ingredients) -> Sample:
    folder = ing.tmp_path / "mlflow-sklearn"
    requirements = write_sklearn_model(folder, ing.pipeline, ing.X)
    return Sample(
        model=MlflowModelDir(folder, trust=True),
        X=ing.X,
        predict=ing.pipeline.predict,
        predict_proba=ing.pipeline.predict_proba,
        payload="model.pkl",
        requirements=requirements,
        exact_requirements=True,
        classes=(0, 1),
    )


def mlflow_loader_module(ing: Ingredients) -> Sample:
    folder = ing.tmp_path / "mlflow-loader"
    threshold = float(ing.X["mean radius"].median())
    requirements = write_loader_model(folder, ing.X, column="mean radius", threshold=threshold)
    return Sample(
        model=MlflowModelDir(folder, trust=True),
        X=ing.X,
        predict=lambda frame: (frame["mean radius"] > threshold).to_numpy().astype(np.int64),
        predict_proba=None,
        payload="data/params.json",
        requirements=requirements,
        exact_requirements=True,
    )


FACTORIES: dict[str, list[Callable[[Ingredients], Sample]]] = {
    "sklearn": [sklearn_pipeline],
    "onnx": [onnx_zipmap, onnx_tensor],
    "pyfunc": [pyfunc_user_class],
    "mlflow": [mlflow_sklearn, mlflow_loader_module],
}


def conformance_cases() -> list[Any]:
    cases = []
    for flavor in all_flavors():
        factories = FACTORIES.get(flavor.name)
        if not factories:
            factories = [None]  # a case that fails, naming the flavor
        for factory in factories:
            label = factory.__name__ if factory else "MISSING-FACTORY"
            cases.append(
                pytest.param(flavor.name, (flavor.name, factory), id=f"{flavor.name}-{label}")
            )
    return cases


@pytest.fixture
def sample(
    request: pytest.FixtureRequest, tmp_path: Path, breast_cancer, fitted_pipeline
) -> Sample:
    name, factory = request.param
    if factory is None:
        pytest.fail(
            f"flavor {name!r} is registered but has no sample factory in "
            f"{Path(__file__).name}::FACTORIES; add one so the conformance suite covers it"
        )
    X, y = breast_cancer
    return factory(Ingredients(tmp_path, X, y, fitted_pipeline))


parametrize_cases = pytest.mark.parametrize(
    ("flavor_name", "sample"), conformance_cases(), indirect=["sample"]
)


def _register(client: Client, sample: Sample, name: str = "conformance"):
    return client.register_model(
        sample.model, name=name, sample_input=sample.X[:SAMPLE_ROWS], **sample.options
    )


def _object_path(client: Client, sha256: str) -> Path:
    return Path(client.settings.resolved_artifacts_url()) / "objects" / sha256[:2] / sha256[2:]


# -- the suite's own completeness ------------------------------------------------


def test_every_registered_flavor_has_a_sample_factory() -> None:
    registered = {flavor.name for flavor in all_flavors()}
    assert registered >= {"sklearn", "onnx", "pyfunc", "mlflow"}
    missing = sorted(name for name in registered if not FACTORIES.get(name))
    assert not missing, f"flavors without a conformance sample factory: {missing}"
    assert set(FACTORIES) <= registered, "a factory names a flavor that is not registered"


def test_a_flavor_without_a_factory_yields_a_failing_case(monkeypatch) -> None:
    class ToyFlavor(shipyard.flavors.Flavor):
        name = "toy-format"

        def can_save(self, model: Any) -> bool:
            return False

        def save(self, model, folder, options):  # pragma: no cover - never called
            raise NotImplementedError

        def load(self, tree, options, context):  # pragma: no cover - never called
            raise NotImplementedError

        def wrap(self, model, signature):  # pragma: no cover - never called
            raise NotImplementedError

    monkeypatch.setitem(shipyard.flavors._FLAVORS, "toy-format", ToyFlavor())
    cases = {case.id: case for case in conformance_cases()}
    assert cases["toy-format-MISSING-FACTORY"].values == ("toy-format", ("toy-format", None))
    assert {case.values[0] for case in cases.values()} == {f.name for f in all_flavors()}


# -- per flavor ----------------------------------------------------------------------


@parametrize_cases
def test_can_save_its_sample_and_not_foreign_objects(flavor_name: str, sample: Sample) -> None:
    flavor = shipyard.flavors.get_flavor(flavor_name)
    assert flavor.can_save(sample.model)
    assert flavor_for(sample.model) is flavor  # guessed without flavor=
    for foreign in ({"predict": "no"}, object(), None, 3.5, ["a"], pd.DataFrame({"a": [1]})):
        assert not flavor.can_save(foreign), f"{flavor_name} claims {type(foreign).__name__}"


@parametrize_cases
def test_register_load_predict_round_trip(flavor_name: str, sample: Sample, client: Client) -> None:
    version = _register(client, sample)
    assert version.flavor == flavor_name
    assert version.uri == "models:/conformance/1"

    loaded = client.load_model("models:/conformance/1")
    X = sample.X
    expected = np.asarray(sample.predict(X))
    assert np.array_equal(np.asarray(loaded.predict(X)), expected)
    assert 0 < expected.mean() < 1  # the reference is not constant, so equality means something
    # Columns in another order plus an unknown one, or a bare matrix: same answers.
    shuffled = X[list(reversed(X.columns))].assign(unrelated=1.0)
    assert np.array_equal(np.asarray(loaded.predict(shuffled)), expected)
    assert np.array_equal(np.asarray(loaded.predict(X.to_numpy())), expected)

    assert hasattr(loaded, "predict_proba") is (sample.predict_proba is not None)
    if sample.predict_proba is not None:
        proba = np.asarray(loaded.predict_proba(X))
        assert proba.shape == (len(X), 2)
        assert np.allclose(proba, sample.predict_proba(X), atol=1e-6)
        assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert loaded.classes == sample.classes

    # The signature describes the sample and survives the store unchanged.
    signature = version.signature
    head = X[:SAMPLE_ROWS]
    assert signature.columns == list(X.columns)
    assert signature.input_kind == "dataframe"
    for spec in signature.inputs:
        assert (spec.dtype, spec.nullable) == ("float64", False)
        assert spec.minimum == pytest.approx(head[spec.name].min())
        assert spec.maximum == pytest.approx(head[spec.name].max())
    assert signature.outputs is not None
    assert signature.outputs.dtype == "int64"
    if sample.classes is not None:
        assert signature.outputs.task == "classification"
        assert signature.outputs.classes == sample.classes
    stored = client.get_model_version("conformance", 1)
    assert stored.signature == signature
    assert loaded.signature == signature
    assert Signature.from_dict(json.loads(json.dumps(signature.to_dict()))) == signature
    assert stored.flavor_options == version.flavor_options


@parametrize_cases
def test_requirements_are_pinned(flavor_name: str, sample: Sample, sqlite_client: Client) -> None:
    version = _register(sqlite_client, sample)
    requirements = list(version.requirements)
    assert requirements, f"{flavor_name} recorded no requirements"
    for line in requirements:
        assert PINNED.match(line), f"{line!r} is not name==version"
    if sample.exact_requirements:
        assert requirements == sample.requirements
        return
    pinned = dict(line.split("==") for line in requirements)
    for package in sample.requirements:
        assert pinned.get(package) == importlib.metadata.version(package), package
    for package, pinned_version in pinned.items():  # every pin is the installed version
        assert importlib.metadata.version(package) == pinned_version
    assert sqlite_client.get_model_version("conformance", 1).requirements == version.requirements


@parametrize_cases
def test_tampered_artifact_is_refused(
    flavor_name: str, sample: Sample, sqlite_client: Client
) -> None:
    client = sqlite_client
    version = _register(client, sample)
    manifest_path = _object_path(client, version.sha256)
    manifest = json.loads(manifest_path.read_bytes())
    assert sample.payload in manifest["files"], sorted(manifest["files"])
    payload_sha = manifest["files"][sample.payload]["sha256"]
    payload_path = _object_path(client, payload_sha)

    def flip_one_byte(path: Path) -> bytes:
        original = path.read_bytes()
        middle = len(original) // 2
        path.write_bytes(
            original[:middle] + bytes([original[middle] ^ 0x01]) + original[middle + 1 :]
        )
        return original

    for path, sha in ((payload_path, payload_sha), (manifest_path, version.sha256)):
        original = flip_one_byte(path)
        with pytest.raises(IntegrityError, match="hash mismatch") as caught:
            client.load_model(version.uri)
        assert sha in str(caught.value)
        path.write_bytes(original)

    restored = client.load_model(version.uri)  # intact again: loads and predicts
    assert np.array_equal(np.asarray(restored.predict(sample.X)), sample.predict(sample.X))


def test_mlflow_loader_module_is_the_one_shipped_in_the_bundle(
    tmp_path: Path, sqlite_client: Client, breast_cancer
) -> None:
    X, _ = breast_cancer
    folder = tmp_path / "mlflow-loader"
    write_loader_model(folder, X, column="mean area", threshold=float(X["mean area"].median()))
    version = sqlite_client.import_mlflow_model(folder, name="loader", trust=True)
    loaded = sqlite_client.load_model(version.uri)
    assert type(loaded.raw).__module__ == LOADER_MODULE
    assert version.flavor_options["mlflow_flavors"] == ["python_function"]
