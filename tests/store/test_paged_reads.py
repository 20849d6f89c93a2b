"""The paged reads the dashboard uses: LIMIT/OFFSET in the query, newest first, light
columns only, and the same answers as the unpaged reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shipyard import Client
from shipyard.config import StoreSettings


def test_models_versions_aliases_and_tags_page_in_the_store(
    tmp_path: Path, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="t")) as client:
        first = client.register_model(fitted_pipeline, name="b", sample_input=X[:20])
        for _ in range(6):
            client.register_package(first.sha256, name="b")
        client.register_package(first.sha256, name="a", tags={"src": "models:/b/2"})
        client.register_package(first.sha256, name="b", tags={"src": "models:/b/2"})
        for version in (1, 2, 3, 4):
            client.set_alias("b", "champion", version)
        assert [m.name for m in client.list_models(limit=1)] == ["a"]
        assert [m.name for m in client.list_models(limit=5, offset=1)] == ["b"]
        page = client.list_model_versions("b", limit=3, offset=2, newest_first=True)
        assert [v.version for v in page] == [6, 5, 4]
        assert page[2].aliases == ("champion",)
        everything = client.list_model_versions("b")
        assert [v.version for v in everything] == list(range(1, 9))
        assert [v for v, _ in client.version_metrics("b")] == list(range(1, 9))
        newest = client.alias_history("b", limit=2)
        assert [(e.previous_version, e.version) for e in newest] == [(2, 3), (3, 4)]
        assert len(client.alias_history("b")) == 4
        assert client.store.registry.versions_tagged("b", "src", "models:/b/2") == [8]


def test_each_datasets_newest_version_pages_by_name(tmp_path: Path) -> None:
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="t")) as client:
        for name, count in (("zeta", 3), ("alpha", 2), ("mid", 1)):
            for i in range(count):
                client.add_dataset(name, pd.DataFrame({"x": [i, i + 10]}))
        latest = client.latest_datasets()
        assert [(r.name, r.version, n) for r, n in latest] == [
            ("alpha", 2, 2),
            ("mid", 1, 1),
            ("zeta", 3, 3),
        ]
        assert [r.name for r, _ in client.latest_datasets(limit=1, offset=1)] == ["mid"]
        page = client.list_datasets("zeta", limit=2, newest_first=True)
        assert [r.version for r in page] == [3, 2]
        profile = client.dataset_profile("zeta", 1)
        assert profile["columns"]["x"]["kind"] == "numeric"


def test_list_folders_lists_one_level_whatever_lies_below(tmp_path: Path) -> None:
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="t")) as client:
        artifacts = client.store.artifacts
        for hour in ("hour=01", "hour=00"):
            for i in range(3):
                artifacts.put_path(f"logs/deployment=d/date=2026-12-01/{hour}/s{i}", b"x")
        artifacts.put_path("logs/deployment=d/README", b"a file, not a folder")
        assert artifacts.list_folders("logs/deployment=d") == ["date=2026-12-01"]
        assert artifacts.list_folders("logs/deployment=d/date=2026-12-01/") == [
            "hour=00",
            "hour=01",
        ]
        assert artifacts.list_folders("logs/deployment=none") == []
