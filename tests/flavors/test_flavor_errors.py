"""What registration and import say when the model or its sample cannot be used.

Every refusal is a ``ShipyardError`` subclass whose message names the problem,
and a refused registration leaves no model or version behind.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow_dirs import write_loader_model, write_mlmodel, write_sklearn_model
from pyfunc_models import UnpicklableModel
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from shipyard import Client, InvalidInput, SignatureError, UnsupportedModel
from shipyard.errors import ModelNotFound


def _assert_nothing_registered(client: Client, name: str) -> None:
    with pytest.raises(ModelNotFound):
        client.get_model(name)


def halve(values):
    return values / 2.0


@pytest.fixture(scope="module")
def small(breast_cancer):
    X, y = breast_cancer
    return X.iloc[:, :4], y


# -- objects no flavor supports --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "type_name"),
    [
        (object(), "builtins.object"),
        ({"coef": [1, 2]}, "builtins.dict"),
        ([1, 2, 3], "builtins.list"),
        ("model.pkl", "builtins.str"),
        (np.zeros((2, 2)), "numpy.ndarray"),
        (LogisticRegression, "builtins.type"),  # the class, not a fitted instance
    ],
    ids=["object", "dict", "list", "str", "ndarray", "estimator-class"],
)
def test_unsupported_object_names_its_type(sqlite_client: Client, model, type_name, small):
    X, _ = small
    with pytest.raises(UnsupportedModel, match="no flavor can save") as caught:
        sqlite_client.register_model(model, name="m", sample_input=X[:5])
    assert type_name in str(caught.value)
    _assert_nothing_registered(sqlite_client, "m")


def test_object_with_predict_but_no_load_is_unsupported(sqlite_client: Client, small):
    class PredictOnly:
        def predict(self, frame):
            return np.zeros(len(frame))

    X, _ = small
    with pytest.raises(UnsupportedModel, match="PredictOnly") as caught:
        sqlite_client.register_model(PredictOnly(), name="m", sample_input=X[:5])
    assert "load(path)" in str(caught.value)


def test_explicit_flavor_that_cannot_save_the_object(sqlite_client: Client, fitted_pipeline):
    with pytest.raises(InvalidInput, match="flavor 'onnx' cannot save an object of type Pipeline"):
        sqlite_client.register_model(fitted_pipeline, name="m", flavor="onnx")
    with pytest.raises(InvalidInput, match="unknown flavor 'tensorflow'") as caught:
        sqlite_client.register_model(fitted_pipeline, name="m", flavor="tensorflow")
    assert "sklearn" in str(caught.value)  # lists the known ones
    _assert_nothing_registered(sqlite_client, "m")


# -- samples that cannot yield a signature ---------------------------------------------


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        (pd.DataFrame(), "has no columns"),
        (pd.DataFrame(index=range(3)), "has no columns"),
        (pd.DataFrame({"a": []}, dtype=float), "has no rows"),
        (np.arange(6.0), r"must be 2-D .* shape \(6,\)"),
        (np.zeros((2, 2, 2)), r"must be 2-D .* shape \(2, 2, 2\)"),
        ("mean radius,mean texture\n1,2", "of type str cannot yield a signature"),
        (42, "of type int cannot yield a signature"),
        (pd.DataFrame({"a": ["x", 1, "y"]}), r"column 'a' mixes value types \['int', 'str'\]"),
        (pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]), r"duplicate column names: \['a'\]"),
        ({"a": [1.0, 2.0], "b": [1.0]}, "not rectangular"),
        (pd.DataFrame({"z": [1 + 2j]}), "column 'z' has dtype complex128"),
    ],
    ids=[
        "empty-frame",
        "zero-columns",
        "zero-rows",
        "1d-array",
        "3d-array",
        "string",
        "int",
        "mixed-column",
        "duplicate-columns",
        "ragged-dict",
        "complex-dtype",
    ],
)
def test_sample_that_cannot_yield_a_signature(
    sqlite_client: Client, fitted_pipeline, sample, message
):
    with pytest.raises(SignatureError, match=message):
        sqlite_client.register_model(fitted_pipeline, name="m", sample_input=sample)
    _assert_nothing_registered(sqlite_client, "m")


def test_model_without_its_own_signature_needs_a_sample(sqlite_client: Client, fitted_pipeline):
    with pytest.raises(
        SignatureError, match=r"sklearn model needs a sample input.*sample_input=X_test\[:50\]"
    ):
        sqlite_client.register_model(fitted_pipeline, name="m")


def test_sample_missing_the_training_columns_is_named(
    sqlite_client: Client, fitted_pipeline, breast_cancer
):
    X, _ = breast_cancer
    with pytest.raises(SignatureError, match=r"fitted on column.*'mean radius'"):
        sqlite_client.register_model(fitted_pipeline, name="m", sample_input=X.to_numpy()[:5])
    with pytest.raises(SignatureError, match=r"\['worst fractal dimension'\]"):
        sqlite_client.register_model(fitted_pipeline, name="m", sample_input=X.iloc[:5, :-1])
    _assert_nothing_registered(sqlite_client, "m")


def test_sample_with_columns_in_another_order_is_fine(
    sqlite_client: Client, fitted_pipeline, breast_cancer
):
    X, _ = breast_cancer
    reordered = X[list(reversed(X.columns))]
    version = sqlite_client.register_model(fitted_pipeline, name="m", sample_input=reordered[:10])
    assert version.signature.columns == list(reordered.columns)
    loaded = sqlite_client.load_model(version.uri)
    assert np.array_equal(loaded.predict(X), fitted_pipeline.predict(X))
    assert np.array_equal(loaded.predict(reordered.to_numpy()), fitted_pipeline.predict(X))


# -- sklearn serialization -------------------------------------------------------------


def test_skops_refuses_a_lambda_and_joblib_stores_it(sqlite_client: Client, small):
    X, y = small
    model = make_pipeline(FunctionTransformer(func=lambda v: v * 3.0), LogisticRegression()).fit(
        X, y
    )
    with pytest.raises(UnsupportedModel, match="serialization='joblib'") as caught:
        sqlite_client.register_model(model, name="lam", sample_input=X[:10])
    assert "skops cannot serialize Pipeline" in str(caught.value)
    _assert_nothing_registered(sqlite_client, "lam")

    version = sqlite_client.register_model(
        model, name="lam", sample_input=X[:10], serialization="joblib"
    )
    assert version.flavor_options["serialization"] == "joblib"
    names = {line.split("==")[0] for line in version.requirements}
    assert {"scikit-learn", "joblib", "cloudpickle"} <= names
    assert "skops" not in names
    loaded = sqlite_client.load_model(version.uri)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_skops_refuses_a_function_defined_inside_a_function(sqlite_client: Client, small):
    X, y = small

    def local_scale(values):
        return values * 2.0

    model = make_pipeline(FunctionTransformer(func=local_scale), LogisticRegression()).fit(X, y)
    with pytest.raises(UnsupportedModel, match="serialization='joblib'"):
        sqlite_client.register_model(model, name="loc", sample_input=X[:10])
    version = sqlite_client.register_model(
        model, name="loc", sample_input=X[:10], serialization="joblib"
    )
    assert np.array_equal(sqlite_client.load_model(version.uri).predict(X), model.predict(X))


def test_skops_keeps_a_module_level_function_it_can_import(sqlite_client: Client, small):
    X, y = small
    model = make_pipeline(FunctionTransformer(func=halve), LogisticRegression()).fit(X, y)
    version = sqlite_client.register_model(model, name="fn", sample_input=X[:10])
    assert version.flavor_options["serialization"] == "skops"
    assert f"{__name__}.halve" in version.flavor_options["trusted_types"]
    assert np.array_equal(sqlite_client.load_model(version.uri).predict(X), model.predict(X))


def test_plain_joblib_for_a_picklable_estimator(sqlite_client: Client, small):
    X, y = small
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    version = sqlite_client.register_model(
        model, name="jl", sample_input=X[:10], serialization="joblib"
    )
    assert version.flavor_options == {"serialization": "joblib"}
    assert "cloudpickle" not in {line.split("==")[0] for line in version.requirements}
    assert np.array_equal(sqlite_client.load_model(version.uri).predict(X), model.predict(X))


def test_unknown_serialization(sqlite_client: Client, fitted_pipeline, breast_cancer):
    X, _ = breast_cancer
    with pytest.raises(InvalidInput, match=r"unknown serialization 'pickle'.*'skops', 'joblib'"):
        sqlite_client.register_model(
            fitted_pipeline, name="m", sample_input=X[:5], serialization="pickle"
        )
    _assert_nothing_registered(sqlite_client, "m")


# -- pyfunc ----------------------------------------------------------------------------


def test_pyfunc_that_cannot_be_pickled(sqlite_client: Client, small):
    X, _ = small
    with pytest.raises(InvalidInput, match="cannot pickle UnpicklableModel with cloudpickle"):
        sqlite_client.register_model(UnpicklableModel(), name="p", sample_input=X[:5])
    _assert_nothing_registered(sqlite_client, "p")


def test_pyfunc_missing_artifacts_or_code_paths(sqlite_client: Client, tmp_path: Path, small):
    from pyfunc_models import ConstantModel

    X, _ = small
    missing = tmp_path / "nope"
    with pytest.raises(InvalidInput, match=r"artifacts path .*nope' does not exist"):
        sqlite_client.register_model(
            ConstantModel(), name="p", sample_input=X[:5], artifacts=missing
        )
    with pytest.raises(InvalidInput, match=r"code path .*nope' does not exist"):
        sqlite_client.register_model(
            ConstantModel(), name="p", sample_input=X[:5], code_paths=[missing]
        )
    _assert_nothing_registered(sqlite_client, "p")


# -- MLflow folders --------------------------------------------------------------------


def test_mlflow_folder_without_mlmodel(sqlite_client: Client, tmp_path: Path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(b"x")
    with pytest.raises(InvalidInput, match="has no MLmodel file"):
        sqlite_client.import_mlflow_model(folder, name="m")
    _assert_nothing_registered(sqlite_client, "m")


def test_mlflow_path_that_is_not_a_directory(sqlite_client: Client, tmp_path: Path):
    file = tmp_path / "MLmodel"
    file.write_text("flavors: {}\n")
    with pytest.raises(InvalidInput, match="is not a directory"):
        sqlite_client.import_mlflow_model(file, name="m")
    with pytest.raises(InvalidInput, match="is not a directory"):
        sqlite_client.import_mlflow_model(tmp_path / "missing", name="m")
    _assert_nothing_registered(sqlite_client, "m")


def test_mlflow_model_with_only_an_unsupported_flavor(sqlite_client: Client, tmp_path: Path):
    folder = tmp_path / "torch"
    write_mlmodel(folder, {"pytorch": {"model_data": "data", "pytorch_version": "2.3.0"}})
    with pytest.raises(UnsupportedModel, match=r"flavors \['pytorch'\]") as caught:
        sqlite_client.import_mlflow_model(folder, name="m")
    assert "'sklearn' and 'python_function'" in str(caught.value)
    _assert_nothing_registered(sqlite_client, "m")


def test_mlflow_mlmodel_that_is_not_yaml_or_not_a_mapping(sqlite_client: Client, tmp_path: Path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: [unclosed\n")
    with pytest.raises(InvalidInput, match="is not valid YAML"):
        sqlite_client.import_mlflow_model(folder, name="m")
    (folder / "MLmodel").write_text("- just\n- a list\n")
    with pytest.raises(UnsupportedModel, match=r"has flavors \[\]"):
        sqlite_client.import_mlflow_model(folder, name="m")


def test_mlflow_loader_that_needs_mlflow_itself(sqlite_client: Client, tmp_path: Path, small):
    if importlib.util.find_spec("mlflow") is not None:  # pragma: no cover - not a test dependency
        pytest.skip("MLflow is installed here, so this model would load")
    X, _ = small
    folder = tmp_path / "torch-pyfunc"
    write_mlmodel(
        folder,
        {
            "python_function": {"loader_module": "mlflow.pytorch", "data": "data"},
            "pytorch": {"model_data": "data", "pytorch_version": "2.3.0"},
        },
    )
    with pytest.raises(
        UnsupportedModel, match=r"loader_module 'mlflow\.pytorch'.*pip install mlflow"
    ):
        sqlite_client.import_mlflow_model(folder, name="m", sample_input=X[:5], trust=True)
    _assert_nothing_registered(sqlite_client, "m")


@pytest.mark.parametrize("serialization_format", ["cloudpickle", "pickle"])
def test_mlflow_pickle_needs_trust(
    sqlite_client: Client, tmp_path: Path, fitted_pipeline, breast_cancer, serialization_format
):
    X, _ = breast_cancer
    folder = tmp_path / "mlflow"
    write_sklearn_model(folder, fitted_pipeline, X, serialization_format=serialization_format)
    with pytest.raises(
        InvalidInput,
        match=rf"runs code when loaded: it is a {serialization_format} file.*trust=True",
    ):
        sqlite_client.import_mlflow_model(folder, name="m")
    _assert_nothing_registered(sqlite_client, "m")
    version = sqlite_client.import_mlflow_model(folder, name="m", trust=True)
    assert np.array_equal(
        sqlite_client.load_model(version.uri).predict(X), fitted_pipeline.predict(X)
    )


def test_mlflow_loader_module_needs_trust(sqlite_client: Client, tmp_path: Path, breast_cancer):
    X, _ = breast_cancer
    folder = tmp_path / "mlflow"
    write_loader_model(folder, X, column="mean radius", threshold=14.0)
    with pytest.raises(InvalidInput, match=r"loader_module .* runs when it is loaded.*trust=True"):
        sqlite_client.import_mlflow_model(folder, name="m")
    _assert_nothing_registered(sqlite_client, "m")


def test_mlflow_skops_needs_trust_only_for_types_skops_does_not_trust(
    sqlite_client: Client, tmp_path: Path, small
):
    X, y = small
    plain = tmp_path / "plain"
    write_sklearn_model(
        plain,
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        X,
        serialization_format="skops",
    )
    sqlite_client.import_mlflow_model(plain, name="plain")  # default types: no trust needed

    odd = tmp_path / "odd"
    estimator = make_pipeline(FunctionTransformer(halve), LogisticRegression()).fit(X, y)
    write_sklearn_model(odd, estimator, X, serialization_format="skops")
    with pytest.raises(InvalidInput, match=r"skops does not trust by default.*halve.*trust=True"):
        sqlite_client.import_mlflow_model(odd, name="odd")
    _assert_nothing_registered(sqlite_client, "odd")
    version = sqlite_client.import_mlflow_model(odd, name="odd", trust=True)
    assert version.flavor_options["skops_trusted_types"] == [f"{__name__}.halve"]
    loaded = sqlite_client.load_model(version.uri)
    assert np.array_equal(loaded.predict(X), estimator.predict(X))


def test_mlflow_folder_whose_pickle_is_corrupt(
    sqlite_client: Client, tmp_path: Path, fitted_pipeline, breast_cancer
):
    X, _ = breast_cancer
    folder = tmp_path / "mlflow"
    write_sklearn_model(folder, fitted_pipeline, X)
    (folder / "model.pkl").write_bytes(b"\x80\x05 definitely not a pickle")
    with pytest.raises(InvalidInput, match=r"cannot load 'model\.pkl' of the MLflow sklearn model"):
        sqlite_client.import_mlflow_model(folder, name="m", sample_input=X[:5], trust=True)
    _assert_nothing_registered(sqlite_client, "m")


# -- ONNX ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_model(small):
    from skl2onnx import to_onnx

    X, y = small
    estimator = make_pipeline(StandardScaler(), LogisticRegression()).fit(X.to_numpy(), y)
    return estimator, to_onnx(estimator, X.to_numpy(np.float32)[:1])


def test_onnx_garbage_bytes_or_file(sqlite_client: Client, tmp_path: Path, small):
    X, _ = small
    garbage = b"\x08\x07garbage, not a protobuf\xff\xff"
    with pytest.raises(InvalidInput, match="onnxruntime cannot load this model") as caught:
        sqlite_client.register_model(garbage, name="g", flavor="onnx")
    assert "valid ONNX" in str(caught.value)
    with pytest.raises(InvalidInput, match="onnxruntime cannot load this model"):
        sqlite_client.register_model(garbage, name="g", sample_input=X[:5])
    path = tmp_path / "garbage.onnx"
    path.write_bytes(garbage)
    for model in (path, str(path)):
        with pytest.raises(InvalidInput, match="onnxruntime cannot load this model"):
            sqlite_client.register_model(model, name="g")
    _assert_nothing_registered(sqlite_client, "g")


def test_onnx_as_bytes_and_as_a_path(sqlite_client: Client, tmp_path: Path, onnx_model, small):
    estimator, proto = onnx_model
    X, _ = small
    path = tmp_path / "model.onnx"
    path.write_bytes(proto.SerializeToString())
    expected = estimator.predict(X.to_numpy())
    for i, model in enumerate((proto.SerializeToString(), path, str(path)), start=1):
        version = sqlite_client.register_model(model, name="ox", sample_input=X[:10])
        assert (version.flavor, version.version) == ("onnx", i)
        assert np.array_equal(sqlite_client.load_model(version.uri).predict(X), expected)
    # Same bytes each time: one stored tree, three versions.
    assert len({v.sha256 for v in sqlite_client.list_model_versions("ox")}) == 1


def test_onnx_sample_of_the_wrong_width(sqlite_client: Client, onnx_model, small):
    _, proto = onnx_model
    X, _ = small
    with pytest.raises(SignatureError, match="takes 4 columns but sample_input has 3"):
        sqlite_client.register_model(proto, name="ox", sample_input=X.iloc[:5, :3])
    _assert_nothing_registered(sqlite_client, "ox")
