"""Signatures inferred at registration: dtypes, nulls, levels, ranges, and bare matrices.

Each signature is read back from the store (SQLite and PostgreSQL) and must
come back identical; loaded models accept the inputs their signature allows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow_dirs import write_loader_model, write_sklearn_model
from pyfunc_models import ConstantModel
from sklearn.linear_model import LogisticRegression

from shipyard import Client, SignatureError
from shipyard.signature import ColumnSpec, Signature

ROWS = 150


def _varied_frame() -> pd.DataFrame:
    """150 rows: every kind of column a signature describes."""
    rng = np.random.default_rng(7)
    floats = rng.normal(10.0, 2.0, ROWS)
    floats[[3, 40]] = np.nan
    floats[5] = np.inf  # not a range bound
    floats[6] = -12.5
    floats[7] = 99.25
    nullable_ints = pd.array(np.arange(ROWS) % 9, dtype="Int64")
    nullable_ints[0] = pd.NA
    cities = np.resize(np.array(["paris", "lyon", "nice"], dtype=object), ROWS)
    cities[10] = None
    return pd.DataFrame(
        {
            "amount": floats,
            "count32": (np.arange(ROWS) - 20).astype(np.int32),
            "small_uint": (np.arange(ROWS) % 5).astype(np.uint8),
            "nullable_int": nullable_ints,
            "flag": np.resize([True, False, False], ROWS),
            "seen_at": pd.to_datetime("2024-01-01") + pd.to_timedelta(np.arange(ROWS), "h"),
            "city": cities,
            "city_string": pd.Series(np.resize(["b", "a"], ROWS), dtype="string"),
            "size": pd.Categorical(
                np.resize(["S", "L", "S", "M"], ROWS), categories=["S", "M", "L", "XL"]
            ),
            "grade": pd.Categorical(np.resize([3, 1], ROWS)),
            "ident": [f"id-{i:03d}" for i in range(ROWS)],  # too many levels to list
            "empty": np.full(ROWS, np.nan),
        }
    )


EXPECTED = [
    ColumnSpec("amount", "float64", True, minimum=-12.5, maximum=99.25),
    ColumnSpec("count32", "int64", False, minimum=-20.0, maximum=129.0),
    ColumnSpec("small_uint", "int64", False, minimum=0.0, maximum=4.0),
    ColumnSpec("nullable_int", "int64", True, minimum=0.0, maximum=8.0),
    ColumnSpec("flag", "bool", False),
    ColumnSpec("seen_at", "datetime", False),
    ColumnSpec("city", "string", True, categories=("lyon", "nice", "paris")),
    ColumnSpec("city_string", "string", False, categories=("a", "b")),
    ColumnSpec("size", "category", False, categories=("S", "M", "L", "XL")),
    ColumnSpec("grade", "category", False, categories=(1, 3)),
    ColumnSpec("ident", "string", False, categories=None),
    ColumnSpec("empty", "float64", True, minimum=None, maximum=None),
]


def test_inferred_column_specs_survive_the_store(client: Client) -> None:
    frame = _varied_frame()
    version = client.register_model(ConstantModel(), name="varied", sample_input=frame)
    signature = version.signature
    assert signature.input_kind == "dataframe"
    assert [spec.name for spec in signature.inputs] == [spec.name for spec in EXPECTED]
    for actual, expected in zip(signature.inputs, EXPECTED, strict=True):
        assert actual == expected, actual.name
    assert signature.outputs is not None
    assert (signature.outputs.dtype, signature.outputs.task) == ("int64", "other")
    assert signature.outputs.classes is None

    stored = client.get_model_version("varied", 1).signature
    assert stored == signature
    assert [type(c) for c in stored.inputs[9].categories] == [int, int]  # not numpy ints
    assert Signature.from_dict(json.loads(json.dumps(stored.to_dict()))) == stored
    loaded = client.load_model("models:/varied/1")
    assert loaded.signature == signature
    assert np.array_equal(loaded.predict(frame), np.zeros(ROWS))


def test_nullability_comes_from_the_sample_only(sqlite_client: Client) -> None:
    complete = pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]})
    gappy = pd.DataFrame({"x": [1.0, None], "s": ["a", None]})
    v1 = sqlite_client.register_model(ConstantModel(), name="n", sample_input=complete)
    v2 = sqlite_client.register_model(ConstantModel(), name="n", sample_input=gappy)
    assert [c.nullable for c in v1.signature.inputs] == [False, False]
    assert [c.nullable for c in v2.signature.inputs] == [True, True]
    assert v2.signature.inputs[0].maximum == 1.0  # the missing value is not a bound


def test_other_sample_shapes_dict_records_series(sqlite_client: Client) -> None:
    as_dict = {"a": [1, 2, 3], "b": ["x", "y", "x"]}
    records = [{"a": 1, "b": "x"}, {"a": 3, "b": "y"}]
    series = pd.Series([0.5, 1.5], name="a")
    for i, sample in enumerate((as_dict, records), start=1):
        version = sqlite_client.register_model(ConstantModel(), name="shapes", sample_input=sample)
        assert version.version == i
        assert version.signature.inputs == (
            ColumnSpec("a", "int64", False, minimum=1.0, maximum=3.0),
            ColumnSpec("b", "string", False, categories=("x", "y")),
        )
    version = sqlite_client.register_model(ConstantModel(), name="series", sample_input=series)
    assert version.signature.inputs == (ColumnSpec("a", "float64", False, None, 0.5, 1.5),)


def test_a_column_the_store_cannot_describe_is_named(sqlite_client: Client) -> None:
    days = pd.Categorical(pd.to_datetime(["2024-01-01", "2024-01-02"]))
    with pytest.raises(SignatureError, match=r"column 'day'.*astype\(str\)"):
        sqlite_client.register_model(ConstantModel(), name="d", sample_input={"day": days})
    assert sqlite_client.list_models() == []


# -- bare matrices -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def matrix(breast_cancer):
    X, y = breast_cancer
    values = X.iloc[:, :6].to_numpy()
    return values, y.to_numpy(), LogisticRegression(max_iter=2000).fit(values, y)


def test_ndarray_sample_names_columns_f0_to_fn(sqlite_client: Client, matrix) -> None:
    values, _, estimator = matrix
    version = sqlite_client.register_model(estimator, name="nd", sample_input=values[:25])
    signature = version.signature
    assert signature.input_kind == "ndarray"
    assert signature.columns == [f"f{i}" for i in range(6)]
    for i, spec in enumerate(signature.inputs):
        assert (spec.dtype, spec.nullable) == ("float64", False)
        assert spec.minimum == values[:25, i].min()
        assert spec.maximum == values[:25, i].max()
    assert sqlite_client.get_model_version("nd", 1).signature == signature

    ints = sqlite_client.register_model(
        estimator, name="nd-int", sample_input=np.arange(12).reshape(2, 6)
    )
    assert {spec.dtype for spec in ints.signature.inputs} == {"int64"}
    assert ints.signature.inputs[5] == ColumnSpec("f5", "int64", False, None, 5.0, 11.0)


def test_ndarray_model_predicts_on_arrays_and_frames(sqlite_client: Client, matrix) -> None:
    values, _, estimator = matrix
    sqlite_client.register_model(estimator, name="nd", sample_input=values[:25])
    loaded = sqlite_client.load_model("models:/nd/1")
    expected = estimator.predict(values)
    assert 0 < expected.mean() < 1
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(6)])
    assert np.array_equal(loaded.predict(values), expected)
    assert np.array_equal(loaded.predict(frame), expected)
    assert np.array_equal(loaded.predict(frame[["f5", "f3", "f1", "f0", "f2", "f4"]]), expected)
    assert np.allclose(loaded.predict_proba(values), estimator.predict_proba(values))
    assert np.array_equal(loaded.predict(values[:1]), expected[:1])

    with pytest.raises(SignatureError, match=r"missing column\(s\) \['f5'\]"):
        loaded.predict(frame.drop(columns="f5"))
    with pytest.raises(SignatureError, match="missing column"):
        loaded.predict(values[:, :5])
    with pytest.raises(SignatureError, match="must be 2-D"):
        loaded.predict(values[0])


def test_onnx_signature_from_the_graph(sqlite_client: Client, matrix) -> None:
    from skl2onnx import to_onnx

    values, _, estimator = matrix
    proto = to_onnx(estimator, values[:1].astype(np.float32))
    version = sqlite_client.register_model(proto, name="ox")  # no sample: the graph says
    assert version.signature.input_kind == "ndarray"
    assert version.signature.inputs == tuple(
        ColumnSpec(f"f{i}", "float64", False) for i in range(6)
    )
    loaded = sqlite_client.load_model(version.uri)
    expected = loaded.predict(values)
    agreement = np.mean(expected == estimator.predict(values))
    assert agreement > 0.99  # float32 inside the graph may flip a borderline row
    frame = pd.DataFrame(values, columns=version.signature.columns)
    assert np.array_equal(loaded.predict(frame), expected)
    assert np.allclose(loaded.predict_proba(frame), estimator.predict_proba(values), atol=1e-4)


# -- MLflow signatures ---------------------------------------------------------------------


def test_mlflow_signature_read_from_mlmodel(
    sqlite_client: Client, tmp_path: Path, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    folder = tmp_path / "mlflow"
    write_sklearn_model(folder, fitted_pipeline, X)
    version = sqlite_client.import_mlflow_model(folder, name="mlf", trust=True)  # no sample_input
    assert version.signature.input_kind == "dataframe"
    assert version.signature.inputs == tuple(ColumnSpec(c, "float64", False) for c in X.columns)
    assert version.signature.outputs is None  # MLflow's output schema is not a sample
    loaded = sqlite_client.load_model(version.uri)
    assert np.array_equal(loaded.predict(X), fitted_pipeline.predict(X))
    assert np.array_equal(loaded.predict(X.to_numpy()), fitted_pipeline.predict(X))


def _rewrite_signature(folder: Path, inputs: list[dict]) -> None:
    import yaml

    spec = yaml.safe_load((folder / "MLmodel").read_text())
    spec["signature"]["inputs"] = json.dumps(inputs)
    (folder / "MLmodel").write_text(yaml.safe_dump(spec, default_flow_style=False))


def test_mlflow_column_types_and_optional_columns(sqlite_client: Client, tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    frame = pd.DataFrame({"n": [1, 2], "x": [0.5, 1.5], "ok": [True, False], "s": ["a", "b"]})
    estimator = DummyClassifier().fit(frame[["n", "x"]], [0, 1])
    folder = tmp_path / "typed"
    write_sklearn_model(folder, estimator, frame[["n", "x"]])
    _rewrite_signature(
        folder,
        [
            {"type": "long", "name": "n", "required": True},
            {"type": "double", "name": "x", "required": False},
            {"type": "boolean", "name": "ok", "required": True},
            {"type": "string", "name": "s"},
        ],
    )
    version = sqlite_client.import_mlflow_model(folder, name="typed", trust=True)
    assert version.signature.inputs == (
        ColumnSpec("n", "int64", False),
        ColumnSpec("x", "float64", True),
        ColumnSpec("ok", "bool", False),
        ColumnSpec("s", "string", False),
    )


def test_mlflow_tensor_signature_is_a_matrix(sqlite_client: Client, tmp_path: Path, matrix):
    values, _, estimator = matrix
    folder = tmp_path / "tensor"
    write_sklearn_model(folder, estimator, pd.DataFrame(values))
    tensor = {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 6]}}
    _rewrite_signature(folder, [tensor])
    version = sqlite_client.import_mlflow_model(folder, name="tensor", trust=True)
    assert version.signature.input_kind == "ndarray"
    assert version.signature.columns == [f"f{i}" for i in range(6)]
    loaded = sqlite_client.load_model(version.uri)
    assert np.array_equal(loaded.predict(values), estimator.predict(values))

    bad = tmp_path / "bad-tensor"
    write_sklearn_model(bad, estimator, pd.DataFrame(values))
    _rewrite_signature(
        bad, [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]
    )
    with pytest.raises(SignatureError, match=r"shape \[-1\] is not a 2-D table"):
        sqlite_client.import_mlflow_model(bad, name="bad", trust=True)


@pytest.mark.parametrize("serialization_format", ["cloudpickle", "pickle", "skops"])
def test_mlflow_without_signature_takes_the_fitted_column_names(
    sqlite_client: Client, tmp_path: Path, fitted_pipeline, breast_cancer, serialization_format
) -> None:
    """Plain ``mlflow.sklearn.save_model(model, path)``: no signature, no input example."""
    X, _ = breast_cancer
    folder = tmp_path / "unsigned"
    write_sklearn_model(
        folder, fitted_pipeline, X, with_signature=False, serialization_format=serialization_format
    )
    version = sqlite_client.import_mlflow_model(folder, name="unsigned", trust=True)
    assert version.signature.input_kind == "dataframe"
    assert version.signature.inputs == tuple(ColumnSpec(c, "float64", False) for c in X.columns)
    loaded = sqlite_client.load_model(version.uri)
    assert np.array_equal(loaded.predict(X[:40]), fitted_pipeline.predict(X[:40]))
    # a sample still wins: it also describes the outputs
    sampled = sqlite_client.import_mlflow_model(
        folder, name="unsigned", sample_input=X[:30], trust=True
    )
    assert sampled.signature.outputs is not None and sampled.signature.outputs.classes == (0, 1)


def test_mlflow_without_signature_fitted_on_a_matrix_names_columns_by_position(
    sqlite_client: Client, tmp_path: Path, matrix
) -> None:
    values, _, estimator = matrix
    folder = tmp_path / "matrix"
    write_sklearn_model(folder, estimator, pd.DataFrame(values), with_signature=False)
    version = sqlite_client.import_mlflow_model(folder, name="matrix", trust=True)
    assert version.signature.input_kind == "ndarray"
    assert version.signature.columns == [f"f{i}" for i in range(6)]
    loaded = sqlite_client.load_model(version.uri)
    assert np.array_equal(loaded.predict(values), estimator.predict(values))


def test_mlflow_without_signature_text_columns_seen_by_an_encoder(
    sqlite_client: Client, tmp_path: Path
) -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"colour": ["red", "blue"] * 10, "amount": np.arange(20.0)})
    target = np.array([0, 1] * 10)
    estimator = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, target)
    folder = tmp_path / "encoded"
    write_sklearn_model(folder, estimator, frame, with_signature=False)
    version = sqlite_client.import_mlflow_model(folder, name="encoded", trust=True)
    assert version.signature.inputs == (
        ColumnSpec("colour", "string", False),
        ColumnSpec("amount", "float64", False),
    )
    loaded = sqlite_client.load_model(version.uri)
    assert np.array_equal(loaded.predict(frame), estimator.predict(frame))


def test_mlflow_input_example_without_signature(
    sqlite_client: Client, tmp_path: Path, fitted_pipeline, breast_cancer, matrix
) -> None:
    X, _ = breast_cancer
    folder = tmp_path / "example"
    write_sklearn_model(folder, fitted_pipeline, X, with_signature=False, input_example=X[:3])
    version = sqlite_client.import_mlflow_model(folder, name="example", trust=True)
    assert version.signature.columns == list(X.columns)
    assert version.signature.outputs is not None  # the example is a sample: outputs described
    assert version.signature.outputs.classes == (0, 1)

    values, _, estimator = matrix
    folder = tmp_path / "example-nd"
    write_sklearn_model(
        folder, estimator, pd.DataFrame(values), with_signature=False, input_example=values[:3]
    )
    version = sqlite_client.import_mlflow_model(folder, name="example-nd", trust=True)
    assert version.signature.input_kind == "ndarray"
    assert version.signature.columns == [f"f{i}" for i in range(6)]


def test_mlflow_model_naming_no_inputs_needs_a_sample(
    sqlite_client: Client, tmp_path: Path, breast_cancer
) -> None:
    import yaml

    X, _ = breast_cancer
    folder = tmp_path / "loader"
    write_loader_model(folder, X, column="mean radius", threshold=14.0)
    spec = yaml.safe_load((folder / "MLmodel").read_text())
    del spec["signature"]
    (folder / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(SignatureError, match=r"needs a sample input.*sample_input=X_test\[:50\]"):
        sqlite_client.import_mlflow_model(folder, name="loader", trust=True)
    version = sqlite_client.import_mlflow_model(
        folder, name="loader", sample_input=X[:30], trust=True
    )
    assert version.signature.columns == list(X.columns)
