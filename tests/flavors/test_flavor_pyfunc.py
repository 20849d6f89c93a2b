"""Python-function models: artifacts, classes, cached copies and same-named user modules."""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyfunc_models import SCALE_FILE, ArrayClassesModel, ThresholdModel

import shipyard
from shipyard import Client

FRAME = pd.DataFrame({"x": [-2.0, -0.5, 0.0, 1.5, 4.0], "y": [1.0, 2.0, 3.0, 4.0, 5.0]})


def test_a_subclass_of_python_model_defined_in_a_test(sqlite_client: Client) -> None:
    class Offset(shipyard.PythonModel):
        def __init__(self) -> None:
            self.offset = 0.0

        def load(self, path: str) -> None:
            self.offset = float((Path(path) / "offset.txt").read_text())

        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return frame["x"].to_numpy() + self.offset

    folder = Path(sqlite_client.settings.home).parent / "offset"
    folder.mkdir()
    (folder / "offset.txt").write_text("10")
    version = sqlite_client.register_model(
        Offset(), name="offset", sample_input=FRAME, artifacts=folder
    )
    assert version.flavor == "pyfunc"
    assert version.signature.outputs is not None
    assert version.signature.outputs.task == "regression"
    loaded = sqlite_client.load_model(version.uri)
    assert np.array_equal(loaded.predict(FRAME), FRAME["x"].to_numpy() + 10)
    assert not hasattr(loaded, "predict_proba")
    assert loaded.classes is None


def test_artifacts_as_a_single_file(sqlite_client: Client, tmp_path: Path) -> None:
    scale = tmp_path / SCALE_FILE
    scale.write_text(json.dumps({"scale": 3.0}))
    model = ThresholdModel({"x": 1.0}, threshold=1.0)
    version = sqlite_client.register_model(model, name="t", sample_input=FRAME, artifacts=scale)
    loaded = sqlite_client.load_model(version.uri)
    # x = 0.5 passes the threshold only with the artifact's scale (3 * 0.5 > 1).
    row = pd.DataFrame({"x": [0.5], "y": [0.0]})
    assert loaded.predict(row).tolist() == [1]
    assert model.predict(row).tolist() == [0]
    assert loaded.classes == (0, 1)
    assert np.allclose(loaded.predict_proba(FRAME).sum(axis=1), 1.0)


def test_numpy_array_classes_are_plain_values(sqlite_client: Client) -> None:
    version = sqlite_client.register_model(ArrayClassesModel(), name="yn", sample_input=FRAME)
    outputs = version.signature.outputs
    assert outputs is not None
    assert (outputs.dtype, outputs.task, outputs.classes) == (
        "string",
        "classification",
        ("no", "yes"),
    )
    loaded = sqlite_client.load_model(version.uri)
    assert loaded.classes == ("no", "yes")
    assert all(type(label) is str for label in loaded.classes)
    assert loaded.predict(FRAME).tolist() == ["no", "no", "no", "yes", "yes"]


def test_edited_cached_copy_is_replaced_by_the_verified_one(sqlite_client: Client, tmp_path: Path):
    artifacts = tmp_path / "a"
    artifacts.mkdir()
    (artifacts / SCALE_FILE).write_text(json.dumps({"scale": 2.0}))
    model = ThresholdModel({"x": 1.0}, threshold=1.0)
    version = sqlite_client.register_model(model, name="t", sample_input=FRAME, artifacts=artifacts)
    first = sqlite_client.load_model(version.uri).predict(FRAME)
    cached = sqlite_client.settings.cache_dir() / version.sha256 / "artifacts" / SCALE_FILE
    assert cached.is_file()
    cached.write_text(json.dumps({"scale": -50.0}))  # someone edits the local copy

    again = sqlite_client.load_model(version.uri).predict(FRAME)
    assert np.array_equal(again, first)
    assert json.loads(cached.read_text()) == {"scale": 2.0}


def _write_user_module(folder: Path, module: str, factor: int) -> None:
    folder.mkdir()
    (folder / f"{module}.py").write_text(
        "import numpy as np\n\n"
        f"FACTOR = {factor}\n\n\n"
        "class Scaler:\n"
        "    def load(self, path):\n"
        "        pass\n\n"
        "    def predict(self, frame):\n"
        "        return frame['x'].to_numpy() * FACTOR\n"
    )


def test_versions_whose_module_has_the_same_name_keep_their_own_code(
    sqlite_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """model.py edited between v1 and v2: a process that loads both must run each one's code."""
    module = f"user_model_{uuid.uuid4().hex[:8]}"
    for version, factor in ((1, 2), (2, 3)):
        folder = tmp_path / f"v{version}"
        _write_user_module(folder, module, factor)
        monkeypatch.syspath_prepend(str(folder))
        monkeypatch.delitem(sys.modules, module, raising=False)
        scaler = importlib.import_module(module).Scaler()
        registered = sqlite_client.register_model(scaler, name="scaler", sample_input=FRAME)
        assert registered.version == version
    # The process now holds v2's module under that name, as a server that loaded v2 would.
    v1 = sqlite_client.load_model("models:/scaler/1")
    v2 = sqlite_client.load_model("models:/scaler/2")
    assert np.array_equal(v1.predict(FRAME), FRAME["x"].to_numpy() * 2)
    assert np.array_equal(v2.predict(FRAME), FRAME["x"].to_numpy() * 3)
