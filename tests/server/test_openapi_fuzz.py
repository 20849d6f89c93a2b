"""Every operation in /openapi.json, fuzzed by schemathesis against a server with real objects.

The world holds a served deployment with a rollout under way, a monitor, a
registered pipeline with a queued run and a webhook, so lookups with the
generated names and ids hit real records as well as missing ones. Each
response must not be a 5xx and must match what the document says: a
documented status, content type and body schema. Inputs outside the schema
must be refused (``negative_data_rejection``).

``positive_data_acceptance`` is left out on purpose: some rules cannot be
written in JSON Schema - a model URI must name a registered version, rollout
steps must increase to 100, pipeline parameters are declared per pipeline -
and those answer a documented 400. The CLI run described in CONTRIBUTING.md
reports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sklearn.linear_model import LogisticRegression
from starlette.types import ASGIApp, Receive, Scope, Send

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.server.app import create_app
from tests.conftest import bearer
from tests.pipelines.helpers import MODEL, make_data, serve_champion, write_pipeline

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def populate(client: Client, folder: Path) -> None:
    """A deployment (clf) rolling out v2, a monitor, a pipeline with a queued run, a webhook."""
    serve_champion(client)
    data = make_data(seed=1)
    features = data[["f0", "f1", "f2", "f3"]]
    candidate = LogisticRegression(C=0.1).fit(features, data["target"])
    client.register_model(candidate, name=MODEL, sample_input=features[:20])
    client.start_rollout(MODEL, RolloutSpec(to=f"{MODEL}/2", steps=(10, 100)))
    client.register_pipeline("retrain", str(write_pipeline(folder, approval=True)))
    client.run_pipeline("retrain", {}, wait=False)
    client.add_webhook("http://127.0.0.1:9/hook")


def without_lifespan(app: ASGIApp) -> ASGIApp:
    """The app for schemathesis' client; the fixture's TestClient runs (and ends) the lifespan."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("the lifespan is run by the test fixture")
        await app(scope, receive, send)

    return serve


def openapi_document() -> dict[str, Any]:
    """The document is the same for every store: read it from a throwaway one.

    (``schemathesis.pytest.from_fixture`` would load it from the fixture's app,
    but it does not run on pytest 9.)
    """
    with TemporaryDirectory() as folder, Client(Path(folder)) as client:
        api = create_app(client=client).fallback
        assert isinstance(api, FastAPI)
        return api.openapi()


schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ASGIApp, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("fuzz")
    client = Client(settings=StoreSettings(home=folder / "ws", user="fuzz"))
    populate(client, folder)
    headers = bearer(client)  # an admin token: every operation is reachable
    # Queued pipeline runs stay queued: executing them would only slow the fuzzing down.
    app = create_app(ServerSettings(poll_interval_s=0.05, pipelines=False), client=client)
    with TestClient(app):
        schema.app = without_lifespan(app)  # calls go in-process, to this app
        yield schema.app, headers
    client.close()


#: The control API's hand-written routes; the Client operations under /api/ops are all
#: made the same way from type hints (strict JSON validation, bounded integers), so fewer
#: examples per operation cover them.
control_api = schema.exclude(path_regex="^/api/ops/")
client_operations = schema.include(path_regex="^/api/ops/")


def _call_with_token(case: schemathesis.Case, served: tuple[ASGIApp, dict[str, str]]) -> None:
    app, headers = served
    # The document declares the bearer scheme, so generated cases carry a (random)
    # Authorization header: swap in the real token. A case whose headers are invalid on
    # purpose (the header left out or malformed) keeps them, and the server must refuse it.
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    headers_valid = header is None or header.mode == GenerationMode.POSITIVE
    if headers_valid and case.headers and any(k.lower() == "authorization" for k in case.headers):
        kept = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
        case.headers = {**kept, **headers}
    case.call_and_validate(app=app, checks=CHECKS)


@control_api.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, served: tuple[ASGIApp, dict[str, str]]
) -> None:
    _call_with_token(case, served)


@client_operations.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_client_operation_answers_as_documented(
    case: schemathesis.Case, served: tuple[ASGIApp, dict[str, str]]
) -> None:
    _call_with_token(case, served)


@schema.parametrize()
@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_without_a_token_every_operation_answers_as_documented(
    case: schemathesis.Case, served: tuple[ASGIApp, dict[str, str]]
) -> None:
    """Anonymous callers get the documented 401 everywhere but liveness/readiness."""
    app, _ = served
    response = case.call_and_validate(app=app, checks=CHECKS)
    open_paths = {"/health", "/ping", "/v2/health/live", "/v2/health/ready"}
    expected_open = case.path in open_paths and case.method == "GET"
    assert (response.status_code != 401) == expected_open, (
        case.method,
        case.path,
        response.status_code,
    )
