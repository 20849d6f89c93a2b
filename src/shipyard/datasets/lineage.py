"""Lineage: dataset version → run → model version → deployment / rollout → logged windows.

Built from what the store already records (run inputs, the run of each
model version, deployment policies, rollouts, prediction-log partitions),
so it answers both directions: what a model was built from, and what was
built from a dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipyard.datasets.service import parse_dataset_uri
from shipyard.deploy.policy import policy_from_dict
from shipyard.entities import ModelVersion
from shipyard.errors import InvalidURI
from shipyard.monitoring.predlog import PREFIX
from shipyard.registry.service import DERIVED_FROM_TAG
from shipyard.registry.uri import parse_model_uri
from shipyard.store import Store

#: The runs a dataset version's lineage follows at most (the newest that read it).
MAX_RUNS = 50_000


@dataclass
class Node:
    kind: str  # dataset | run | model | deployment | rollout | predictions
    id: str
    detail: str = ""
    children: list[Node] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "detail": self.detail,
            "children": [c.to_dict() for c in self.children],
        }


def _deployments_serving(store: Store, version: ModelVersion) -> list[Node]:
    nodes = []
    for deployment in store.deployments.list():
        policy = policy_from_dict(deployment.policy)
        for ref in policy.targets:
            if ref.name != version.name:
                continue
            try:
                resolved = store.registry.get_version(
                    ref.name, version=ref.version, alias=ref.alias
                )
            except Exception:  # an alias since deleted: no current link
                continue
            if resolved.version == version.version:
                node = Node("deployment", deployment.name, f"{policy.kind} policy, serves now")
                node.children += _windows(store, deployment.name)
                nodes.append(node)
                break
    for rollout in store.rollouts.history():
        if version.version in (rollout.candidate_version, rollout.baseline_version) and (
            rollout.spec.get("to", "").split("@")[0].split("/")[0] == version.name
        ):
            role = "candidate" if rollout.candidate_version == version.version else "baseline"
            nodes.append(
                Node(
                    "rollout", str(rollout.id), f"{role} in {rollout.deployment}: {rollout.status}"
                )
            )
    return nodes


def _windows(store: Store, deployment: str) -> list[Node]:
    # the partition folders, not every segment: a busy log holds thousands of files an hour
    base = f"{PREFIX}/deployment={deployment}"
    hours = [
        f"{date}/{hour}"
        for date in store.artifacts.list_folders(base)
        for hour in store.artifacts.list_folders(f"{base}/{date}")
    ]
    if not hours:
        return []
    return [
        Node(
            "predictions", f"{deployment}", f"{len(hours)} logged hour(s): {hours[0]} … {hours[-1]}"
        )
    ]


def _derivations(store: Store, version: ModelVersion) -> list[Node]:
    """The version this one was made from (with its own lineage), and versions made from it."""
    nodes = []
    source = version.tags.get(DERIVED_FROM_TAG)
    if source is not None:
        node = model_lineage(store, source, derivations=False)
        node.detail = f"derived from (source of this version): {node.detail}"
        nodes.append(node)
    for number in store.registry.versions_tagged(version.name, DERIVED_FROM_TAG, version.uri):
        other = store.registry.get_version(version.name, version=number)
        nodes.append(Node("model", other.uri, f"derived from this version: {other.flavor}"))
    return nodes


def model_lineage(store: Store, uri: str, *, derivations: bool = True) -> Node:
    ref = parse_model_uri(uri)
    version = store.registry.get_version(ref.name, version=ref.version, alias=ref.alias)
    root = Node("model", version.uri, f"{version.flavor}, sha256 {version.sha256[:12]}")
    if derivations:
        root.children += _derivations(store, version)
    if version.run_id:
        run = store.tracking.get_run(version.run_id)
        run_node = Node(
            "run",
            run.id,
            f"{run.name} in {run.experiment} ({run.status}), git {run.git_commit or '-'}",
        )
        for item in run.inputs:
            run_node.children.append(
                Node(
                    "dataset",
                    f"datasets:/{item.dataset}/{item.version}",
                    f"sha256 {(item.digest or '-')[:12]}",
                )
            )
        root.children.append(run_node)
    root.children += _deployments_serving(store, version)
    return root


def dataset_lineage(store: Store, uri: str) -> Node:
    ref = parse_dataset_uri(uri)
    record = store.datasets.get(ref.name, ref.version)
    root = Node("dataset", record.uri, f"{record.rows:,} rows, sha256 {record.sha256[:12]}")
    run_ids = store.tracking.runs_reading(record.name, str(record.version), limit=MAX_RUNS)
    built: dict[str, list[tuple[str, int]]] = {}
    for run_id, name, number in store.registry.versions_from_runs(run_ids):
        built.setdefault(run_id, []).append((name, number))
    for run_id in run_ids:
        run = store.tracking.get_run(run_id)
        run_node = Node("run", run.id, f"{run.name} in {run.experiment} ({run.status})")
        for name, number in built.get(run_id, []):
            version = store.registry.get_version(name, version=number)
            model_node = Node("model", version.uri, f"aliases {list(version.aliases)}")
            model_node.children += _deployments_serving(store, version)
            run_node.children.append(model_node)
        root.children.append(run_node)
    return root


def lineage(store: Store, uri: str) -> Node:
    if uri.startswith("models:/"):
        return model_lineage(store, uri)
    if uri.startswith("datasets:/"):
        return dataset_lineage(store, uri)
    raise InvalidURI(uri, "lineage takes models:/NAME/VERSION or datasets:/NAME/VERSION")
