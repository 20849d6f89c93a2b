"""Baked model trees: used when intact, refused (and fetched from the store) when not."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.packaging.container import bake_tree
from shipyard.store import ArtifactStore


def _baked_workspace(tmp_path: Path, fitted_pipeline, X) -> tuple[StoreSettings, str]:
    settings = StoreSettings(home=tmp_path / "ws", user="tester")
    with Client(settings=settings) as client:
        version = client.register_model(fitted_pipeline, name="cancer", sample_input=X[:5])
        bake_tree(client.store.artifacts, ArtifactStore(str(tmp_path / "baked")), version.sha256)
    return settings, version.sha256


def test_an_intact_baked_tree_serves_without_the_artifact_store(
    tmp_path: Path, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    settings, _ = _baked_workspace(tmp_path, fitted_pipeline, X)
    empty = tmp_path / "empty-artifacts"
    image = StoreSettings(  # a pod: its own home, the shared database, an empty store
        home=tmp_path / "pod",
        db_url=settings.resolved_db_url(),
        artifacts_url=str(empty),
        baked_models=tmp_path / "baked",
        user="tester",
    )
    with Client(settings=image) as client:
        model = client.load_model("models:/cancer/1")
        np.testing.assert_array_equal(model.predict(X[:50]), fitted_pipeline.predict(X[:50]))
    assert not (empty / "objects").exists()


def test_a_corrupt_baked_tree_is_refused_logged_and_fetched_from_the_store(
    tmp_path: Path, fitted_pipeline, breast_cancer, caplog
) -> None:
    X, _ = breast_cancer
    settings, sha = _baked_workspace(tmp_path, fitted_pipeline, X)
    files = [p for p in (tmp_path / "baked" / "objects").rglob("*") if p.is_file()]
    model_file = max(files, key=lambda p: p.stat().st_size)  # the estimator, not the manifest
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    image = settings.model_copy(update={"baked_models": tmp_path / "baked"})
    with (
        caplog.at_level(logging.ERROR, logger="shipyard.registry.service"),
        Client(settings=image) as client,
    ):
        model = client.load_model("models:/cancer/1")
        np.testing.assert_array_equal(model.predict(X[:50]), fitted_pipeline.predict(X[:50]))
    assert f"refusing the baked copy of models:/cancer/1 (tree {sha})" in caplog.text
