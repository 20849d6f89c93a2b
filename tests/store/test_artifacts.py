"""Content-addressed artifacts: dedup, atomic writes, verification on every read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shipyard.errors import IntegrityError, InvalidInput, StoreError
from shipyard.store.artifacts import ArtifactStore


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"))


def _object_files(root: Path) -> list[Path]:
    return [p for p in (root / "objects").rglob("*") if p.is_file()]


def test_bytes_are_stored_once_under_their_hash(store: ArtifactStore, tmp_path: Path) -> None:
    first = store.put_bytes(b"hello")
    second = store.put_bytes(b"hello")
    assert first == second
    assert first.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert len(_object_files(tmp_path / "artifacts")) == 1
    assert store.get_bytes(first.sha256) == b"hello"
    assert not any((tmp_path / "artifacts" / "tmp").glob("*"))  # no temp file left


def test_changed_bytes_are_refused_with_the_hash_mismatch(store: ArtifactStore) -> None:
    ref = store.put_bytes(b"model weights")
    path = store.local_path(ref.sha256)
    assert path is not None
    path.write_bytes(b"model weightz")
    with pytest.raises(IntegrityError, match="hash mismatch") as info:
        store.get_bytes(ref.sha256)
    assert ref.sha256 in str(info.value)


def test_a_truncated_object_is_rewritten_by_the_next_put(store: ArtifactStore) -> None:
    ref = store.put_bytes(b"0123456789")
    path = store.local_path(ref.sha256)
    assert path is not None
    path.write_bytes(b"01234")
    store.put_bytes(b"0123456789")
    assert store.get_bytes(ref.sha256) == b"0123456789"


def test_missing_object_and_bad_key_errors(store: ArtifactStore) -> None:
    with pytest.raises(StoreError, match="missing"):
        store.get_bytes("a" * 64)
    with pytest.raises(InvalidInput, match="not a sha256"):
        store.get_bytes("../../etc/passwd")


def test_put_file_requires_a_file(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a readable file"):
        store.put_file(tmp_path / "nope.txt")


def test_tree_round_trip_and_tampered_cache_is_rebuilt(
    store: ArtifactStore, tmp_path: Path
) -> None:
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"A" * 100)
    (folder / "sub" / "b.txt").write_text("bee")
    ref = store.put_tree(folder)
    assert ref.size == 103
    tree = store.open_tree(ref.sha256)
    assert tree.read_bytes("sub/b.txt") == b"bee"
    cache = tmp_path / "cache"
    local = tree.materialize(cache)
    assert (local / "a.bin").read_bytes() == b"A" * 100
    (local / "a.bin").write_bytes(b"evil")  # someone edits the cached copy
    again = store.open_tree(ref.sha256).materialize(cache)
    assert (again / "a.bin").read_bytes() == b"A" * 100


def test_materialize_refuses_a_corrupt_stored_file(store: ArtifactStore, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"weights")
    ref = store.put_tree(folder)
    tree = store.open_tree(ref.sha256)
    target = store.local_path(tree.files["w.bin"]["sha256"])
    assert target is not None
    target.write_bytes(b"WEIGHTS")
    with pytest.raises(IntegrityError):
        tree.materialize(tmp_path / "cache")
    assert not (tmp_path / "cache" / ref.sha256).exists()


def test_memory_filesystem_works_through_fsspec() -> None:
    store = ArtifactStore("memory://shipyard-test-artifacts")
    ref = store.put_bytes(b"remote bytes")
    assert store.get_bytes(ref.sha256) == b"remote bytes"
    assert store.exists(ref.sha256)
