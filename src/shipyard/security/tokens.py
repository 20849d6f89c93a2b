"""API tokens: ``shp_`` + 30 base62 characters (178 random bits) + a 6-character checksum.

The prefix and the checksum let secret scanners (and our own server) tell a
real token from a typo without a database lookup, as GitHub's token format
does. Only the SHA-256 of a token is stored: tokens are random, so a slow KDF
would buy nothing and cost every request (MLflow's scrypt check takes 129 ms).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import zlib

PREFIX = "shp_"
ALPHABET = string.digits + string.ascii_letters  # base62
RANDOM_CHARS = 30  # 30 * log2(62) = 178.6 bits
CHECKSUM_CHARS = 6
TOKEN_PATTERN = re.compile(rf"^{PREFIX}[0-9A-Za-z]{{{RANDOM_CHARS + CHECKSUM_CHARS}}}$")
DISPLAY_CHARS = len(PREFIX) + 6  # what lists show: "shp_AbC123..."


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_CHARS)


def new_token() -> str:
    """A fresh token; shown to its owner once, never stored."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return f"{PREFIX}{body}{_checksum(body)}"


def well_formed(token: str) -> bool:
    """Prefix, length, alphabet and checksum: a cheap check before any lookup."""
    if not TOKEN_PATTERN.match(token):
        return False
    body = token[len(PREFIX) : len(PREFIX) + RANDOM_CHARS]
    return secrets.compare_digest(token[-CHECKSUM_CHARS:], _checksum(body))


def token_hash(token: str) -> str:
    """What the store keeps: the SHA-256 of the whole token, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def display(token: str) -> str:
    """The first characters, for lists and logs: enough to recognise, useless to use."""
    return token[:DISPLAY_CHARS] + "…"
