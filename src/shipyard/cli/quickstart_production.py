"""The quickstart's production step: what a team deploys, written as files.

The deployment the loop ended with becomes a container build context (models
baked in by hash), Kubernetes manifests, a Grafana dashboard and Prometheus
alert rules, under ``<workspace>/production``. Nothing here needs Docker or a
cluster: each file is what ``shipyard build``, ``shipyard k8s``, ``shipyard
grafana`` and ``shipyard alerts`` write, ready to build, apply and import.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import ShipyardError
from shipyard.packaging.alerts import build_rules, render_rules
from shipyard.packaging.grafana import build_dashboard, render_dashboard
from shipyard.sdk.client import Client


@dataclass(frozen=True)
class ProductionSummary:
    folder: Path
    image_versions: list[str]
    requirements: int
    image_skipped: str | None
    manifests: list[str]
    panels: int
    alerts: int


def write_production_files(client: Client, deployment: str) -> ProductionSummary:
    folder = client.settings.home / "production"
    shutil.rmtree(folder, ignore_errors=True)  # a workspace that ran the quickstart before
    folder.mkdir(parents=True)
    versions: list[str] = []
    requirements = 0
    skipped = None
    try:
        built = client.build_container(deployment, folder / "image", bake=True)
        versions = [str(v["uri"]) for v in built.versions]
        requirements = len(built.requirements)
    except ShipyardError as exc:  # e.g. Shipyard installed from a wheel, no source to build
        skipped = str(exc)
    manifests = client.write_kubernetes_manifests(deployment, folder / "k8s")
    (folder / "dashboard.json").write_text(render_dashboard(deployment))
    (folder / "rules.yaml").write_text(render_rules())
    panels = [p for p in build_dashboard(deployment)["panels"] if p["type"] != "row"]
    return ProductionSummary(
        folder=folder,
        image_versions=versions,
        requirements=requirements,
        image_skipped=skipped,
        manifests=sorted({m.kind for m in manifests}),
        panels=len(panels),
        alerts=len(build_rules()["groups"][0]["rules"]),
    )
