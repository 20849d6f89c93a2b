"""Kubernetes object names and labels from Shipyard names.

Shipyard names allow ``_``, ``.`` and capitals and run to 256 characters;
Kubernetes wants DNS-1123 labels (Services even DNS-1035: a letter first) of at
most 63 characters, and a CronJob's name at most 52 (its Jobs append 11). Two
deployment names that sanitize alike (``fraud_model``, ``fraud.model``) must
not share objects, so any name that had to change carries a short hash of the
original.
"""

from __future__ import annotations

import hashlib
import re

#: A DNS-1123 label (the rule every name and label value here is checked against).
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_LABEL_MAX = 63
#: The prefix makes every name start with a letter (DNS-1035, for Services) and groups
#: Shipyard's objects in `kubectl get`.
PREFIX = "shipyard-"
#: Room left for the longest suffix ("-stream", "-worker", "-config") under the
#: CronJob limit of 52 characters.
BASE_MAX = 44
_INVALID = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")


def dns_label(name: str, max_length: int = DNS_LABEL_MAX) -> str:
    """``name`` as a DNS-1123 label of at most ``max_length`` characters.

    A name that is already a valid label of that length is kept; any other is
    lower-cased, every run of refused characters becomes one ``-``, and a
    6-character hash of the original is appended so distinct names stay distinct.
    """
    if len(name) <= max_length and DNS_LABEL.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    cleaned = _DASHES.sub("-", _INVALID.sub("-", name.lower())).strip("-")
    head = cleaned[: max_length - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest


def base_name(deployment: str) -> str:
    """The name every object of ``deployment`` starts with: ``shipyard-<label>``."""
    return PREFIX + dns_label(deployment, BASE_MAX - len(PREFIX))


def is_dns_label(name: str) -> bool:
    return len(name) <= DNS_LABEL_MAX and DNS_LABEL.fullmatch(name) is not None
