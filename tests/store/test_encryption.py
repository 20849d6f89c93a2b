"""Encryption at rest: sealed files, tamper detection, key errors, rotation, mixed workspaces."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from pathlib import Path

import pytest

from shipyard.errors import EncryptionKeyError, IntegrityError, InvalidInput, TamperedArtifact
from shipyard.store import encryption, key_rotation
from shipyard.store.artifacts import ArtifactStore
from shipyard.store.encryption import (
    HEADER_SIZE,
    MAGIC,
    SEGMENT_SIZE,
    SLOT_OFFSETS,
    SLOT_SIZE,
    Key,
    Keyring,
    create_key_file,
    load_key_file,
    load_keyring,
)

BIG = 2 * SEGMENT_SIZE + 12_345  # three segments, the last one short


@pytest.fixture
def key(tmp_path: Path) -> Key:
    return create_key_file(tmp_path / "current.key")


@pytest.fixture
def new_key(tmp_path: Path) -> Key:
    return create_key_file(tmp_path / "new.key")


@pytest.fixture
def store(tmp_path: Path, key: Key) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"), Keyring(key))


def _payload(size: int = BIG) -> bytes:
    return os.urandom(size)


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# -- round trips ----------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, SEGMENT_SIZE, BIG])
def test_sealed_objects_round_trip_and_keep_the_plaintext_hash(
    store: ArtifactStore, tmp_path: Path, size: int
) -> None:
    data = _payload(size)
    ref = store.put_bytes(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    on_disk = Path(store.key(ref.sha256)).read_bytes()
    assert on_disk.startswith(MAGIC) and len(on_disk) == encryption.sealed_size(size)
    assert store.get_bytes(ref.sha256) == data
    store.copy_to(ref.sha256, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == data
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    assert store.put_file(source) == ref  # dedup: the sealed object is recognized
    assert store.verified_path(ref.sha256, tmp_path, "v").read_bytes() == data


def test_no_method_hands_out_an_encrypted_file(store: ArtifactStore, tmp_path: Path) -> None:
    ref = store.put_bytes(b"secret weights")
    assert store.local_path(ref.sha256) is None
    path = store.verified_path(ref.sha256, tmp_path, "model.bin")
    assert path == tmp_path / "model.bin" and path.read_bytes() == b"secret weights"


def test_trees_materialize_outside_the_workspace_when_encrypted(
    store: ArtifactStore, tmp_path: Path
) -> None:
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"alpha")
    (folder / "sub" / "b.bin").write_bytes(_payload(5000))
    tree = store.open_tree(store.put_tree(folder).sha256)
    cache = tmp_path / "ws" / "cache"
    root = tree.materialize(cache)
    assert not cache.exists() and cache not in root.parents
    assert oct(root.parent.stat().st_mode)[-3:] == "700"
    assert (root / "a.txt").read_bytes() == b"alpha"
    assert (root / "sub" / "b.bin").read_bytes() == (folder / "sub" / "b.bin").read_bytes()


def test_named_paths_are_sealed_and_bound_to_their_path(store: ArtifactStore) -> None:
    store.put_path("predictions/a.parquet", b"row data")
    store.put_path("predictions/b.parquet", b"other rows")
    root = Path(store.root)
    assert b"row data" not in (root / "predictions/a.parquet").read_bytes()
    assert store.read_path("predictions/a.parquet") == b"row data"
    # A segment swapped in under another name does not authenticate.
    (root / "predictions/b.parquet").write_bytes((root / "predictions/a.parquet").read_bytes())
    with pytest.raises(TamperedArtifact):
        store.read_path("predictions/b.parquet")


def test_unencrypted_stores_write_plain_bytes(tmp_path: Path) -> None:
    plain = ArtifactStore(str(tmp_path / "artifacts"))
    ref = plain.put_bytes(b"as it always was")
    assert Path(plain.key(ref.sha256)).read_bytes() == b"as it always was"
    assert plain.local_path(ref.sha256) == Path(plain.key(ref.sha256))


def test_a_plaintext_object_that_starts_with_the_magic_still_reads(tmp_path: Path) -> None:
    plain = ArtifactStore(str(tmp_path / "artifacts"))
    data = MAGIC + _payload(HEADER_SIZE + 100)
    ref = plain.put_bytes(data)
    assert plain.get_bytes(ref.sha256) == data
    plain.copy_to(ref.sha256, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == data


# -- tampering -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "where",
    [
        "magic",
        "segment size",
        "nonce prefix",
        "size",
        "slot 0 wrapped key",
        "slot 1 nonce",
        "first segment",
        "middle segment",
        "last tag",
    ],
)
def test_a_flipped_byte_fails_with_an_integrity_error(
    store: ArtifactStore, tmp_path: Path, where: str
) -> None:
    data = _payload()
    ref = store.put_bytes(data)
    offsets = {
        "magic": 3,
        "segment size": 9,
        "nonce prefix": 14,
        "size": 25,
        "slot 0 wrapped key": SLOT_OFFSETS[0] + 30,
        "slot 1 nonce": SLOT_OFFSETS[1] + 10,
        "first segment": HEADER_SIZE + 5,
        "middle segment": HEADER_SIZE + SEGMENT_SIZE + 16 + 100,
        "last tag": encryption.sealed_size(len(data)) - 1,
    }
    path = Path(store.key(ref.sha256))
    _flip(path, offsets[where])
    with pytest.raises(IntegrityError):
        store.get_bytes(ref.sha256)
    with pytest.raises(IntegrityError):
        store.copy_to(ref.sha256, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change", ["truncate last segment", "drop a segment", "swap segments"])
def test_truncated_or_reordered_files_are_detected(store: ArtifactStore, change: str) -> None:
    ref = store.put_bytes(_payload())
    path = Path(store.key(ref.sha256))
    raw = path.read_bytes()
    header, body = raw[:HEADER_SIZE], raw[HEADER_SIZE:]
    whole = SEGMENT_SIZE + 16
    segments = [body[:whole], body[whole : 2 * whole], body[2 * whole :]]
    if change == "truncate last segment":
        path.write_bytes(raw[:-20])
    elif change == "drop a segment":
        path.write_bytes(header + segments[0] + segments[2])
    else:
        path.write_bytes(header + segments[1] + segments[0] + segments[2])
    with pytest.raises(IntegrityError):
        store.get_bytes(ref.sha256)


def test_an_object_swapped_for_another_is_detected(store: ArtifactStore) -> None:
    a = store.put_bytes(b"model A")
    b = store.put_bytes(b"model B")
    Path(store.key(b.sha256)).write_bytes(Path(store.key(a.sha256)).read_bytes())
    with pytest.raises(IntegrityError):
        store.get_bytes(b.sha256)


# -- keys ----------------------------------------------------------------------------------
def test_a_missing_key_says_the_artifact_is_encrypted(store: ArtifactStore, key: Key) -> None:
    ref = store.put_bytes(b"weights")
    keyless = ArtifactStore(store.url)
    with pytest.raises(EncryptionKeyError, match=r"is encrypted .*SHIPYARD_ENCRYPTION_KEY_FILE"):
        keyless.get_bytes(ref.sha256)
    with pytest.raises(EncryptionKeyError, match=key.id):
        keyless.get_bytes(ref.sha256)


def test_a_wrong_key_names_the_expected_key_id(
    store: ArtifactStore, key: Key, new_key: Key, tmp_path: Path
) -> None:
    ref = store.put_bytes(b"weights")
    store.put_path("logs/x", b"log")
    wrong = ArtifactStore(store.url, Keyring(new_key))
    for read in (lambda: wrong.get_bytes(ref.sha256), lambda: wrong.read_path("logs/x")):
        with pytest.raises(EncryptionKeyError) as caught:
            read()
        assert key.id in str(caught.value) and new_key.id in str(caught.value)
    with pytest.raises(EncryptionKeyError):
        wrong.copy_to(ref.sha256, tmp_path / "out")


def test_key_files_are_private_and_strictly_parsed(tmp_path: Path) -> None:
    path = tmp_path / "k"
    created = create_key_file(path)
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert load_key_file(path).id == created.id
    assert len(base64.b64decode(path.read_text().strip(), validate=True)) == 32
    with pytest.raises(InvalidInput, match="refusing to overwrite"):
        create_key_file(path)
    raw = tmp_path / "raw"
    raw.write_bytes(os.urandom(32))
    short = tmp_path / "short"
    short.write_text(base64.b64encode(os.urandom(16)).decode())
    for bad in (raw, short):
        with pytest.raises(EncryptionKeyError, match="one base64 line encoding 32 random bytes"):
            load_key_file(bad)
    with pytest.raises(EncryptionKeyError, match="cannot read"):
        load_key_file(tmp_path / "missing")
    with pytest.raises(EncryptionKeyError, match="no SHIPYARD_ENCRYPTION_KEY_FILE"):
        load_keyring(None, str(path))
    assert load_keyring(None) is None


# -- rotation ------------------------------------------------------------------------------
def _fill(store: ArtifactStore) -> dict[str, bytes]:
    objects = {store.put_bytes(data).sha256: data for data in (_payload(), b"small", b"")}
    store.put_path("predictions/deployment=d/seg-1.parquet", b"prediction rows")
    return objects


def _payload_bytes(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes()[HEADER_SIZE:] for p in root.rglob("*") if p.is_file()}


def test_rotation_rewraps_headers_only_and_keeps_everything_loadable(
    store: ArtifactStore, key: Key, new_key: Key, tmp_path: Path
) -> None:
    objects = _fill(store)
    before = _payload_bytes(Path(store.root))
    seen: list[tuple[int, int]] = []
    report = key_rotation.rotate(store, new_key, progress=lambda d, t: seen.append((d, t)))
    assert (report.rewrapped, report.current, report.plaintext) == (4, 0, 0)
    assert seen[-1] == (4, 4)
    assert _payload_bytes(Path(store.root)) == before  # not one payload byte rewritten
    rotated = ArtifactStore(store.url, Keyring(new_key))
    for sha, data in objects.items():
        assert rotated.get_bytes(sha) == data
    assert rotated.read_path("predictions/deployment=d/seg-1.parquet") == b"prediction rows"
    with pytest.raises(EncryptionKeyError, match=new_key.id):
        ArtifactStore(store.url, Keyring(key)).get_bytes(next(iter(objects)))
    assert key_rotation.inventory(rotated) == {new_key.id: 4}
    again = key_rotation.rotate(ArtifactStore(store.url, Keyring(key)), new_key)
    assert (again.rewrapped, again.current) == (0, 4)  # idempotent


def test_an_interrupted_rotation_reads_with_both_keys_and_finishes_on_rerun(
    store: ArtifactStore, key: Key, new_key: Key
) -> None:
    objects = _fill(store)
    sha = next(iter(objects))
    path = Path(store.key(sha))
    header = encryption.Header.parse(path.read_bytes()[:HEADER_SIZE], str(path))
    dek, _ = encryption.unwrap(header, Keyring(key), encryption.object_identity(sha), str(path))
    # The crash: the new wrap reached slot 1, slot 0 still holds the old one.
    slot = encryption.wrap(new_key, dek, header.fixed, encryption.object_identity(sha))
    key_rotation._write_slots_in_place(str(path), slot, [1])
    both = ArtifactStore(store.url, Keyring(new_key, (key,)))
    assert both.get_bytes(sha) == objects[sha]
    assert ArtifactStore(store.url, Keyring(key)).get_bytes(sha) == objects[sha]
    # A torn slot (half written) still leaves the file recoverable by the rotation.
    _flip(path, SLOT_OFFSETS[1] + SLOT_SIZE - 1)
    with pytest.raises(IntegrityError):
        both.get_bytes(sha)
    report = key_rotation.rotate(store, new_key)
    assert report.rewrapped == 4
    assert ArtifactStore(store.url, Keyring(new_key)).get_bytes(sha) == objects[sha]


def test_rotation_on_an_object_store_copies_the_payload_unchanged(key: Key, new_key: Key) -> None:
    url = f"memory://rotation-{uuid.uuid4().hex}"
    remote = ArtifactStore(url, Keyring(key))
    objects = _fill(remote)
    sha = next(iter(objects))
    payload = remote.fs.cat_file(remote.key(sha))[HEADER_SIZE:]
    assert key_rotation.rotate(remote, new_key).rewrapped == 4
    rotated = ArtifactStore(url, Keyring(new_key))
    assert rotated.fs.cat_file(rotated.key(sha))[HEADER_SIZE:] == payload
    assert all(rotated.get_bytes(s) == data for s, data in objects.items())


def test_rotation_needs_the_current_key(tmp_path: Path, new_key: Key) -> None:
    with pytest.raises(EncryptionKeyError, match="no encryption key is configured"):
        key_rotation.rotate(ArtifactStore(str(tmp_path / "a")), new_key)


# -- mixed workspaces ----------------------------------------------------------------------
def test_plaintext_files_written_before_the_key_stay_readable_until_encrypted(
    tmp_path: Path, key: Key
) -> None:
    url = str(tmp_path / "artifacts")
    plain = ArtifactStore(url)
    old = plain.put_bytes(b"written before the key")
    plain.put_path("predictions/old.parquet", b"old rows")
    store = ArtifactStore(url, Keyring(key))
    new = store.put_bytes(b"written after")
    assert store.get_bytes(old.sha256) == b"written before the key"
    assert key_rotation.inventory(store) == {key.id: 1, "plaintext": 2}
    assert key_rotation.encrypt_plaintext(store) == 2
    assert key_rotation.inventory(store) == {key.id: 3}
    assert store.get_bytes(old.sha256) == b"written before the key"
    assert store.get_bytes(new.sha256) == b"written after"
    assert store.read_path("predictions/old.parquet") == b"old rows"
    assert b"old rows" not in Path(url, "predictions/old.parquet").read_bytes()


def test_put_file_seals_new_files_in_one_pass_and_leaves_no_temp(
    store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(_payload())
    ref = store.put_file(source)
    assert ref.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert store.get_bytes(ref.sha256) == source.read_bytes()
    assert store.put_file(source, sha256=ref.sha256) == ref
    assert list((Path(store.root) / "tmp").iterdir()) == []


def test_put_file_on_an_object_store_is_sealed_too(key: Key, tmp_path: Path) -> None:
    remote = ArtifactStore(f"memory://put-{uuid.uuid4().hex}", Keyring(key))
    source = tmp_path / "model.bin"
    source.write_bytes(_payload())
    ref = remote.put_file(source)
    assert remote.fs.cat_file(remote.key(ref.sha256)).startswith(MAGIC)
    remote.copy_to(ref.sha256, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()


def test_a_slot_under_an_unknown_key_id_is_skipped_not_trusted(
    store: ArtifactStore, key: Key
) -> None:
    """The key-id label picks a slot; it cannot make one open. A label damaged into an
    unknown id leaves the other slot (same data key) to open the file."""
    ref = store.put_bytes(b"weights")
    path = Path(store.key(ref.sha256))
    _flip(path, SLOT_OFFSETS[0])
    assert store.get_bytes(ref.sha256) == b"weights"
    _flip(path, SLOT_OFFSETS[1])
    with pytest.raises(EncryptionKeyError, match=key.id):
        store.get_bytes(ref.sha256)
