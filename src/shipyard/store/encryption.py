"""Envelope encryption of artifact files: a data key per file, wrapped by the workspace key.

Each file gets a random 256-bit data key (DEK); the payload is AES-256-GCM in
1 MiB segments, so files of any size stream with bounded memory. The DEK is
wrapped (AES-256-GCM) by the key-encryption key (KEK) from
``SHIPYARD_ENCRYPTION_KEY_FILE`` and kept in the file's fixed-size header, so a
key rotation rewrites 136 header bytes and never touches the payload.

Layout (integers big-endian)::

    magic         8   b"SHPYENC\\x01"
    segment_size  4
    nonce_prefix  7   random per file
    size          8   plaintext bytes
    slot 0       68   KEK id (8) | wrap nonce (12) | wrapped DEK (32 + 16-byte tag)
    slot 1       68   same; both hold the same wrap except halfway through a rotation
    segments          AES-GCM(DEK, nonce = prefix | index (4) | last (1), aad = fixed header)

The wrap's associated data is the fixed header, the file's identity
(``object:<sha256>`` or ``path:<relative path>``) and the KEK id, so a changed
header or a file swapped for another fails to unwrap; segments are bound to
their DEK (unique per file), their position (the index) and the end of the file
(the last flag), so truncation and reordering fail too. Two wrap slots make an
in-place rotation crash-safe: the new wrap is written to one slot and synced
before the other is overwritten, so one slot always opens the file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shipyard.errors import EncryptionKeyError, InvalidInput, TamperedArtifact

MAGIC = b"SHPYENC\x01"
SEGMENT_SIZE = 1 << 20
TAG_SIZE = 16
KEY_SIZE = 32
_ID_SIZE = 8
_NONCE_SIZE = 12
_FIXED = struct.Struct(">8sI7sQ")
_WRAPPED = _ID_SIZE + _NONCE_SIZE  # where the wrapped key starts in a slot
SLOT_SIZE = _ID_SIZE + _NONCE_SIZE + KEY_SIZE + TAG_SIZE
SLOT_OFFSETS = (_FIXED.size, _FIXED.size + SLOT_SIZE)
HEADER_SIZE = _FIXED.size + 2 * SLOT_SIZE
KEY_ENV = "SHIPYARD_ENCRYPTION_KEY_FILE"

Reader = Callable[[int], bytes]


# -- keys -------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class Key:
    """A key-encryption key. Its ``id`` (a hash of the key) names it in errors and headers."""

    id: str
    aead: AESGCM

    @classmethod
    def from_bytes(cls, material: bytes) -> Key:
        if len(material) != KEY_SIZE:
            raise InvalidInput(f"an encryption key is {KEY_SIZE} bytes, not {len(material)}")
        digest = hashlib.sha256(b"shipyard-kek-id\x00" + material).hexdigest()
        return cls(digest[: 2 * _ID_SIZE], AESGCM(material))

    def __repr__(self) -> str:  # never the key material
        return f"Key(id={self.id})"


def create_key_file(path: Path) -> Key:
    """Write a new random key as one base64 line, readable by its owner only (0600)."""
    material = AESGCM.generate_key(bit_length=256)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidInput(f"{str(path)!r} already exists; refusing to overwrite a key") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot create key file {str(path)!r}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.b64encode(material) + b"\n")
    return Key.from_bytes(material)


def load_key_file(path: Path) -> Key:
    """Read a key file: one base64 line of 32 bytes (what ``shipyard keys create`` writes)."""
    try:
        text = path.read_bytes().strip()
    except OSError as exc:
        raise EncryptionKeyError(
            f"cannot read encryption key file {str(path)!r}: {exc.strerror}"
        ) from None
    try:
        material = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        material = b""
    if len(material) != KEY_SIZE:
        raise EncryptionKeyError(
            f"encryption key file {str(path)!r} must hold one base64 line encoding "
            f"{KEY_SIZE} random bytes (256 bits); make one with `shipyard keys create --out FILE`"
        )
    return Key.from_bytes(material)


@dataclass(frozen=True)
class Keyring:
    """The key new files are written with, plus keys that may only open existing files."""

    primary: Key
    others: tuple[Key, ...] = ()

    def get(self, key_id: str) -> Key | None:
        for key in (self.primary, *self.others):
            if key.id == key_id:
                return key
        return None

    @property
    def ids(self) -> list[str]:
        return [self.primary.id, *(k.id for k in self.others if k.id != self.primary.id)]


def load_keyring(key_file: Path | None, read_key_files: str = "") -> Keyring | None:
    """The keyring the settings name, or ``None`` for an unencrypted workspace."""
    extra = [Path(p.strip()) for p in read_key_files.split(",") if p.strip()]
    if key_file is None:
        if extra:
            raise EncryptionKeyError(
                f"read-only encryption keys are configured but no {KEY_ENV}; set it to the key "
                "new artifacts are written with"
            )
        return None
    return Keyring(load_key_file(key_file), tuple(load_key_file(p) for p in extra))


# -- header -----------------------------------------------------------------------------
def object_identity(sha256: str) -> bytes:
    return b"object:" + sha256.encode()


def path_identity(relpath: str) -> bytes:
    return b"path:" + relpath.encode()


def segment_count(size: int, segment_size: int = SEGMENT_SIZE) -> int:
    return max(1, -(-size // segment_size))


def sealed_size(size: int, segment_size: int = SEGMENT_SIZE) -> int:
    """Bytes on disk for ``size`` bytes of plaintext."""
    return HEADER_SIZE + size + TAG_SIZE * segment_count(size, segment_size)


def is_sealed(prefix: bytes) -> bool:
    return prefix[: len(MAGIC)] == MAGIC


@dataclass(frozen=True)
class Header:
    segment_size: int
    nonce_prefix: bytes
    size: int
    slots: tuple[bytes, bytes]

    @property
    def fixed(self) -> bytes:
        return _FIXED.pack(MAGIC, self.segment_size, self.nonce_prefix, self.size)

    def pack(self) -> bytes:
        return self.fixed + self.slots[0] + self.slots[1]

    def key_ids(self) -> list[str]:
        return sorted({slot[:_ID_SIZE].hex() for slot in self.slots})

    @classmethod
    def parse(cls, raw: bytes, where: str) -> Header:
        if len(raw) < HEADER_SIZE or not is_sealed(raw):
            raise TamperedArtifact(where, "its encryption header is incomplete")
        _, segment_size, prefix, size = _FIXED.unpack_from(raw)
        if segment_size == 0:
            raise TamperedArtifact(where, "its encryption header is damaged")
        slots = tuple(raw[o : o + SLOT_SIZE] for o in SLOT_OFFSETS)
        return cls(segment_size, prefix, size, (slots[0], slots[1]))


def wrap(key: Key, dek: bytes, header_fixed: bytes, identity: bytes) -> bytes:
    """One slot: the data key sealed by ``key``, bound to this file's header and identity."""
    key_id = bytes.fromhex(key.id)
    nonce = os.urandom(_NONCE_SIZE)
    return key_id + nonce + key.aead.encrypt(nonce, dek, header_fixed + identity + key_id)


def unwrap(
    header: Header, keyring: Keyring | None, identity: bytes, where: str, *, strict: bool = True
) -> tuple[bytes, list[int]]:
    """The data key, and which slots opened it.

    Strict (loads): every slot wrapped by a key we hold must authenticate. Lenient
    (rotation): one good slot is enough, so a rotation interrupted mid-write repairs.
    """
    if keyring is None:
        raise EncryptionKeyError(
            f"artifact {where!r} is encrypted (key id {', '.join(header.key_ids())}); "
            f"set {KEY_ENV} to its key file"
        )
    dek: bytes | None = None
    opened: list[int] = []
    known = False
    for index, slot in enumerate(header.slots):
        key = keyring.get(slot[:_ID_SIZE].hex())
        if key is None:
            continue
        known = True
        aad = header.fixed + identity + slot[:_ID_SIZE]
        try:
            found = key.aead.decrypt(slot[_ID_SIZE:_WRAPPED], slot[_WRAPPED:], aad)
        except InvalidTag:
            if strict:
                raise TamperedArtifact(where, "its data key failed authentication") from None
            continue
        if dek is not None and found != dek:
            raise TamperedArtifact(where, "its two key slots disagree")
        dek = found
        opened.append(index)
    if not known:
        raise EncryptionKeyError(
            f"artifact {where!r} is encrypted with key id {', '.join(header.key_ids())}, "
            f"but the configured key id is {', '.join(keyring.ids)}; "
            f"set {KEY_ENV} to the right key file"
        )
    if dek is None:
        raise TamperedArtifact(where, "its data key failed authentication")
    return dek, opened


# -- payload ----------------------------------------------------------------------------
def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _changed() -> InvalidInput:
    return InvalidInput("the file changed size while it was being stored")


class SealWriter:
    """Seals one file's segments in order, into one reused buffer.

    The segments are authenticated with the fixed header only; the file's identity
    is bound by the key wrap, so ``header()`` may be made after the segments, once
    the plaintext's hash is known (one pass over a file to hash and encrypt it).
    """

    def __init__(self, size: int) -> None:
        self._dek = AESGCM.generate_key(bit_length=256)
        self._aead = AESGCM(self._dek)
        self._prefix = os.urandom(7)
        self.fixed = _FIXED.pack(MAGIC, SEGMENT_SIZE, self._prefix, size)
        self.size = size
        self._count = segment_count(size)
        self._index = 0
        self._sealed = 0
        self._out = bytearray(min(SEGMENT_SIZE, size) + TAG_SIZE)

    def header(self, key: Key, identity: bytes) -> bytes:
        slot = wrap(key, self._dek, self.fixed, identity)
        return self.fixed + slot + slot

    @property
    def done(self) -> bool:
        return self._index == self._count

    @property
    def next_size(self) -> int:
        return min(SEGMENT_SIZE, self.size - self._sealed)

    def segment(self, chunk: bytes | memoryview) -> memoryview:
        """The next segment sealed (a view that the following call overwrites)."""
        want = self.next_size
        if self.done or len(chunk) != want:
            raise _changed()
        out = memoryview(self._out)[: want + TAG_SIZE]
        nonce = _nonce(self._prefix, self._index, self._index == self._count - 1)
        self._aead.encrypt_into(nonce, chunk, self.fixed, out)
        self._index += 1
        self._sealed += want
        return out


def seal(
    keyring: Keyring, identity: bytes, size: int, read: Reader
) -> Iterator[bytes | memoryview]:
    """Yield the header, then each sealed segment of the ``size`` bytes ``read`` returns."""
    writer = SealWriter(size)
    yield writer.header(keyring.primary, identity)
    while not writer.done:
        yield writer.segment(read_exact(read, writer.next_size))
    if read(1):
        raise _changed()


def read_exact(read: Reader, size: int) -> bytes:
    """``size`` bytes, or fewer only at the end of the file (remote reads may come short)."""
    first = read(size)
    if len(first) == size or not first:
        return first
    parts = [bytes(first)]
    got = len(first)
    while got < size and (more := read(size - got)):
        parts.append(bytes(more))
        got += len(more)
    return b"".join(parts)


def file_reader(handle: Any) -> Reader:
    """``read(n)`` over a file into one reused buffer: the view is valid until the next read."""
    if not hasattr(handle, "readinto"):
        return cast(Reader, handle.read)
    buffer = bytearray(SEGMENT_SIZE + TAG_SIZE)

    def read(size: int) -> bytes:
        if size > len(buffer):
            return read_exact(handle.read, size)
        view = memoryview(buffer)[:size]
        got = 0
        while got < size and (count := handle.readinto(view[got:])):
            got += count
        return view[:got]  # type: ignore[return-value]  # every consumer takes a buffer

    return read


class SealReader:
    """Opens a sealed file: the header is checked on construction, segments on iteration."""

    def __init__(
        self, keyring: Keyring | None, identity: bytes, read: Reader, where: str, first: bytes = b""
    ) -> None:
        raw = bytes(first) + bytes(read_exact(read, HEADER_SIZE - len(first)))
        self.header = Header.parse(raw, where)
        dek, _ = unwrap(self.header, keyring, identity, where)
        self._aead = AESGCM(dek)
        self._read = read
        self._where = where
        self.size = self.header.size

    def segments(self, into: bytearray | memoryview | None = None) -> Iterator[memoryview]:
        """Authenticated plaintext, segment by segment: views into ``into`` (the whole
        plaintext, preallocated) or into one reused buffer."""
        header = self.header
        buffer = into if into is not None else bytearray(min(header.segment_size, self.size))
        count = segment_count(self.size, header.segment_size)
        offset = 0
        for index in range(count):
            want = min(header.segment_size, self.size - offset)
            blob = read_exact(self._read, want + TAG_SIZE)
            if len(blob) != want + TAG_SIZE:
                raise TamperedArtifact(self._where, "it is shorter than its header says")
            start = offset if into is not None else 0
            target = memoryview(buffer)[start : start + want]
            nonce = _nonce(header.nonce_prefix, index, index == count - 1)
            try:
                self._aead.decrypt_into(nonce, blob, header.fixed, target)
            except InvalidTag:
                target[:] = bytes(want)  # never leave unauthenticated plaintext behind
                raise TamperedArtifact(
                    self._where, f"segment {index} failed authentication"
                ) from None
            offset += want
            yield target
        if self._read(1):
            raise TamperedArtifact(self._where, "it is longer than its header says")

    def read_all(self, digest: Any = None) -> bytes:
        """The whole plaintext, decrypted in place into the bytes object returned
        (a ``BytesIO`` hands its buffer over without a copy), fed to ``digest`` on the way."""
        buffer = io.BytesIO()
        if self.size:
            buffer.seek(self.size - 1)
            buffer.write(b"\x00")
        with buffer.getbuffer() as view:
            for segment in self.segments(into=view):
                if digest is not None:
                    digest.update(segment)
            del segment
        return buffer.getvalue()
