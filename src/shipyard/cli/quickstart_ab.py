"""The quickstart's A/B step: is the compiled model better in production?

The champion (scikit-learn) and its ONNX version (or, without the onnx extra,
the version the champion replaced) split the deployment's users 50/50, sticky
by an ``X-User`` header. Each user sends one request through
the real server; the true diagnoses arrive afterwards as feedback. The
report compares the arms on latency (the primary metric: lower is better)
and accuracy, checks the split (SRM) and the error-rate guardrail, and
decides in sequential mode (safe to look at any time). The experiment is
then stopped, so the deployment returns to the champion; `shipyard ab report
NAME --promote` would roll the winner out instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pandas as pd

from shipyard.config import ServerSettings
from shipyard.sdk.client import Client
from shipyard.server.app import create_app
from shipyard.server.background import running_server

USERS = 400


@dataclass(frozen=True)
class ABSummary:
    name: str
    report: dict  # ExperimentReport.to_dict()
    users: int


def run_an_experiment(
    client: Client,
    deployment: str,
    challenger: str,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    headers: dict[str, str],
) -> ABSummary:
    name = f"quickstart-ab-{uuid.uuid4().hex[:6]}"
    client.ab_start(
        name,
        deployment=deployment,
        arms=f"{deployment}@champion=50,{challenger}=50",
        key="header:X-User",
        metrics=["latency_ms", "accuracy"],
        guardrails=["error_rate<=0.01"],
        min_samples=100,
        sequential=True,
    )
    records = X.to_dict(orient="records")
    answered: dict[str, int] = {}
    try:
        with (
            running_server(create_app(ServerSettings(), client=client)) as url,
            httpx.Client(base_url=url, headers=headers, timeout=30) as http,
        ):
            for user in range(USERS):
                row = user % len(records)
                request_id = f"{name}-{user}"
                response = http.post(
                    f"/v1/deployments/{deployment}/predict",
                    json={"inputs": [records[row]]},
                    headers={"x-user": f"patient-{user}", "x-request-id": request_id},
                )
                response.raise_for_status()
                answered[request_id] = row
        # The diagnoses arrive later, as feedback joined by request id.
        client.add_feedback(
            deployment,
            [{"request_id": rid, "label": int(y.iloc[row])} for rid, row in answered.items()],
        )
        report = client.ab_report(name).to_dict()
    finally:
        client.ab_stop(name, reason="quickstart: shown, not promoted")
    return ABSummary(name, report, len(answered))
