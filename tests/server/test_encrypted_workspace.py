"""An encrypted workspace end to end: register, load, datasets, serving and its prediction log.

The marker is planted in artifact payloads only (model feature names, dataset cells,
logged inputs). The metadata database is not encrypted by this feature (a version's
signature names its columns there), so the SQLite files are left out of the walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.errors import EncryptionKeyError, IntegrityError
from shipyard.sdk.keys import create_key_file
from shipyard.server.app import create_app
from tests.conftest import bearer

MARKER = "PLANTEDxq7MARKER"
FAST = ServerSettings(prediction_log_flush_s=0.05, poll_interval_s=0.05)


def _features(rows: int = 80) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame({f"{MARKER}_a": rng.normal(size=rows), f"{MARKER}_b": rng.normal(size=rows)})
    return X, (X.iloc[:, 0] > 0).to_numpy().astype(int)


def _settings(home: Path, key_file: Path | None) -> StoreSettings:
    return StoreSettings(home=home, user="tester", encryption_key_file=key_file)


def _fill(client: Client, tmp_path: Path) -> pd.DataFrame:
    """A model, a DataFrame dataset, a folder dataset, and served predictions with inputs."""
    from sklearn.linear_model import LogisticRegression

    X, y = _features()
    client.register_model(LogisticRegression().fit(X, y), name="m", sample_input=X[:20])
    client.add_dataset("frame", pd.DataFrame({"text": [MARKER] * 5, "x": range(5)}))
    folder = tmp_path / "parts"
    folder.mkdir()
    pd.DataFrame({"text": [MARKER, "other"]}).to_csv(folder / "part-1.csv", index=False)
    client.add_dataset("folder", folder)
    client.create_deployment("m", "m/1")
    with TestClient(create_app(FAST, client=client), headers=bearer(client)) as server:
        response = server.post(
            "/v1/deployments/m/predict", json={"inputs": X[:4].to_dict(orient="records")}
        )
        assert response.status_code == 200, response.text
    return X


def _files_with_marker(home: Path) -> list[Path]:
    files = [p for p in home.rglob("*") if p.is_file() and not p.name.startswith("shipyard.db")]
    assert len(files) > 5
    return [p for p in files if MARKER.encode() in p.read_bytes()]


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "workspace.key"
    path.parent.mkdir()
    create_key_file(path)
    return path


@pytest.fixture
def encrypted(tmp_path: Path, key_file: Path) -> Iterator[Client]:
    with Client(settings=_settings(tmp_path / "ws", key_file)) as client:
        yield client


def test_the_plaintext_workspace_holds_the_marker(tmp_path: Path) -> None:
    """The control: without a key the marker is found, so the next test can fail."""
    with Client(settings=_settings(tmp_path / "ws", None)) as client:
        _fill(client, tmp_path)
    found = {p.relative_to(tmp_path / "ws").parts[1] for p in _files_with_marker(tmp_path / "ws")}
    assert {"objects", "predictions"} <= found


def test_an_encrypted_workspace_holds_no_plaintext_and_still_works(
    encrypted: Client, tmp_path: Path
) -> None:
    X = _fill(encrypted, tmp_path)
    model = encrypted.load_model("models:/m/1")
    latest = encrypted.load_model("models:/m/latest")
    assert list(model.predict(X[:3])) == list(latest.predict(X[:3]))
    assert encrypted.load_dataset("datasets:/frame/1")["text"].tolist() == [MARKER] * 5
    assert MARKER in encrypted.load_dataset("datasets:/folder/1")["text"].tolist()
    logged = encrypted.predictions("m")
    assert len(logged) == 4 and f"in.{MARKER}_a" in logged.columns
    assert _files_with_marker(tmp_path / "ws") == []


def test_the_server_serves_a_model_from_an_encrypted_workspace(
    encrypted: Client, tmp_path: Path
) -> None:
    X = _fill(encrypted, tmp_path)
    with TestClient(create_app(FAST, client=encrypted), headers=bearer(encrypted)) as server:
        response = server.post(
            "/v1/deployments/m/predict", json={"inputs": X[:3].to_dict(orient="records")}
        )
    assert response.status_code == 200, response.text
    assert (
        response.json()["predictions"]
        == encrypted.load_model("models:/m/1").predict(X[:3]).tolist()
    )


def test_a_flipped_byte_or_a_wrong_key_fails_the_load(
    encrypted: Client, tmp_path: Path, key_file: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = _features()
    encrypted.register_model(LogisticRegression().fit(X, y), name="m", sample_input=X[:20])
    other = tmp_path / "keys" / "other.key"
    create_key_file(other)
    with (
        Client(settings=_settings(tmp_path / "ws", other)) as wrong,
        pytest.raises(EncryptionKeyError, match="encrypted with key id"),
    ):
        wrong.load_model("models:/m/1")
    with (
        Client(settings=_settings(tmp_path / "ws", None)) as keyless,
        pytest.raises(EncryptionKeyError, match="SHIPYARD_ENCRYPTION_KEY_FILE"),
    ):
        keyless.load_model("models:/m/1")
    objects = tmp_path / "ws" / "artifacts" / "objects"
    largest = max((p for p in objects.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(largest.read_bytes())
    data[len(data) // 2] ^= 0x40
    largest.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        encrypted.load_model("models:/m/1")


def test_rotation_keeps_the_workspace_loadable(
    encrypted: Client, tmp_path: Path, key_file: Path
) -> None:
    X = _fill(encrypted, tmp_path)
    new = tmp_path / "keys" / "new.key"
    new_id = create_key_file(new)
    report = encrypted.rotate_encryption_key(new)
    assert report.rewrapped > 5 and report.plaintext == 0
    assert encrypted.encryption_status() == {new_id: report.rewrapped}
    with Client(settings=_settings(tmp_path / "ws", new)) as rotated:
        assert len(rotated.load_model("models:/m/1").predict(X[:3])) == 3
        assert rotated.load_dataset("datasets:/frame/1")["text"].tolist() == [MARKER] * 5
        assert len(rotated.load_dataset("datasets:/folder/1")) == 2
        assert len(rotated.predictions("m")) == 4
