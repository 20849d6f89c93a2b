"""What changed between two dataset versions: schema, row counts, distributions.

Distributions are compared from the stored profiles (no data is re-read):
normalized Wasserstein between the quantile functions for numbers,
Jensen-Shannon distance between level frequencies for categories.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from shipyard.monitoring.drift import js_distance
from shipyard.store import Store


def _profiles(store: Store, sha: str) -> dict[str, Any]:
    return dict(json.loads(store.artifacts.get_bytes(sha))["columns"])


def _shift(a: dict[str, Any], b: dict[str, Any]) -> tuple[str, float] | None:
    if a["kind"] != b["kind"]:
        return None
    if a["kind"] == "numeric":
        qa, qb = np.asarray(a["quantiles"]), np.asarray(b["quantiles"])
        if not len(qa) or not len(qb):
            return None
        levels = np.linspace(0, 1, 201)
        fa = np.interp(levels, np.linspace(0, 1, len(qa)), qa)
        fb = np.interp(levels, np.linspace(0, 1, len(qb)), qb)
        scale = a["std"] or 1.0
        return "wasserstein", float(np.mean(np.abs(fa - fb)) / scale)
    return "jensenshannon", js_distance(a["frequencies"], b["frequencies"])


def diff(store: Store, name: str, old: int, new: int) -> dict[str, Any]:
    first, second = store.datasets.get(name, old), store.datasets.get(name, new)
    columns_a = {c["name"]: c for c in first.schema["columns"]}
    columns_b = {c["name"]: c for c in second.schema["columns"]}
    changed = {
        n: {"from": columns_a[n]["dtype"], "to": columns_b[n]["dtype"]}
        for n in columns_a.keys() & columns_b.keys()
        if columns_a[n]["dtype"] != columns_b[n]["dtype"]
    }
    nullability = {
        n: {"from": columns_a[n]["nullable"], "to": columns_b[n]["nullable"]}
        for n in columns_a.keys() & columns_b.keys()
        if columns_a[n]["nullable"] != columns_b[n]["nullable"]
    }
    profiles_a = _profiles(store, first.profile_sha256)
    profiles_b = _profiles(store, second.profile_sha256)
    shifts = {}
    for column in sorted(profiles_a.keys() & profiles_b.keys()):
        shift = _shift(profiles_a[column], profiles_b[column])
        if shift is not None:
            shifts[column] = {"method": shift[0], "distance": shift[1], "shifted": shift[1] >= 0.1}
    return {
        "name": name,
        "from": old,
        "to": new,
        "rows": {"from": first.rows, "to": second.rows},
        "added_columns": sorted(columns_b.keys() - columns_a.keys()),
        "removed_columns": sorted(columns_a.keys() - columns_b.keys()),
        "type_changes": changed,
        "nullability_changes": nullability,
        "distribution_shift": shifts,
    }
