"""Bad input to every MLflow route is a 4xx in MLflow's error shape, never a 5xx: the
stock client retries 5xx answers for minutes. (These routes are kept out of the
OpenAPI document, so the schemathesis run does not reach them; this walks them.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shipyard.server.auth import app_routes
from tests.server.mlflow_api.conftest import API

JUNK_BODIES = [
    {},
    {"run_id": "nope", "experiment_id": "x", "name": "", "key": "", "value": None},
    {
        "run_id": "0" * 32,
        "experiment_id": "999",
        "name": "a/../b",
        "version": "x",
        "alias": "champion",
        "source": "file:///etc/passwd",
        "filter": "metrics.x >",
        "max_results": -1,
        "page_token": "%%%",
        "metrics": [{"key": 1}],
        "params": "not-a-list",
        "tags": [{"value": "no key"}],
        "status": "WHATEVER",
        "model_json": "{",
        "datasets": [{"dataset": 3}],
        "experiment_ids": ["abc"],
        "order_by": ["metrics.x SIDEWAYS"],
        "start_time": "soon",
        "end_time": "later",
        "view_type": "SOME",
        "run_view_type": "SOME",
    },
    [1, 2, 3],
    "plain text",
]


def _routes(http: TestClient) -> list[tuple[str, str]]:
    api = http.app.fallback  # type: ignore[attr-defined]
    return sorted(
        (method, path)
        for method, path in app_routes(api.routes)
        if path.startswith(("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"))
    )


def _url(template: str) -> str:
    return (
        template.replace("{model_id}", "m-" + "0" * 32)
        .replace("{tag_key}", "k")
        .replace("{path:path}", "1/" + "0" * 32 + "/artifacts/../x")
    )


@pytest.mark.parametrize("body_index", range(len(JUNK_BODIES)))
def test_junk_is_a_4xx_in_mlflow_shape(http: TestClient, body_index: int) -> None:
    body = JUNK_BODIES[body_index]
    routes = _routes(http)
    assert len(routes) >= 2 * 60
    for method, template in routes:
        url = _url(template)
        if method == "GET":
            params = body if isinstance(body, dict) else {"q": str(body)}
            answer = http.get(url, params={k: str(v) for k, v in params.items()})
        else:
            answer = http.request(method, url, json=body)
        assert answer.status_code < 500, (method, template, answer.status_code, answer.text)
        if answer.status_code >= 400:
            payload = answer.json()
            assert set(payload) == {"error_code", "message"}, (method, template, payload)


def test_non_json_bodies_and_unknown_routes(http: TestClient) -> None:
    broken = http.post(
        f"{API}/runs/create", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    unknown = http.get(f"{API}/traces/get")
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    server_info = http.get("/api/3.0/mlflow/server-info")
    assert server_info.status_code == 404
    assert server_info.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_without_a_token_every_mlflow_route_is_unauthenticated(http: TestClient) -> None:
    anonymous = TestClient(http.app)
    for path in (f"{API}/experiments/get-by-name", f"{API}/no/such/route"):
        answer = anonymous.get(path, params={"experiment_name": "x"})
        assert answer.status_code == 401
        assert answer.json()["error_code"] == "UNAUTHENTICATED"
    upload = anonymous.put("/api/2.0/mlflow-artifacts/artifacts/1/x/artifacts/f", content=b"x")
    assert upload.status_code == 401
