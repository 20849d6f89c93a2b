"""The prediction hot path as a bare ASGI app in front of the FastAPI app.

Prediction POSTs are matched by plain string operations and answered without
framework routing, dependency injection or response models: a body read with
a size limit, orjson, the signature check, the batcher, orjson again. Every
other request (control API, docs, health, metrics) goes to the FastAPI app.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from shipyard.errors import InvalidInput, MissingDependency, NotFound, ShipyardError
from shipyard.server import explain
from shipyard.server.errors import BodyTooLarge, http_status, internal_message
from shipyard.server.protocols import mlflow, native, oip
from shipyard.serving.dataplane import DataPlane, ModelFailed
from shipyard.serving.metrics import ServingMetrics

logger = logging.getLogger(__name__)


class PredictApp:
    def __init__(
        self,
        dataplane: DataPlane,
        metrics: ServingMetrics,
        fallback: ASGIApp,
        *,
        max_body_bytes: int,
        max_rows: int = 10_000,
        default_deployment: str | None = None,
        explanations: explain.Explanations | None = None,
    ) -> None:
        self.dataplane = dataplane
        self.explanations = explanations
        self.metrics = metrics
        self.fallback = fallback
        self.max_body_bytes = max_body_bytes
        self.max_rows = max_rows
        self.default_deployment = default_deployment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            route = self._match(scope["path"])
            if route is not None:
                await self._handle(route[0], route[1], route[2], scope, receive, send)
                return
            explain_route = explain.match(scope["path"]) if self.explanations else None
            if explain_route is not None:
                await self._explain(explain_route[0], explain_route[1], scope, receive, send)
                return
        await self.fallback(scope, receive, send)

    def _match(self, path: str) -> tuple[str, str, str | None] | None:
        """(protocol, deployment, version) for a prediction path, else None."""
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "v1" and parts[1] == "deployments":
            if parts[3] == "predict":
                return "native", parts[2], None
            if parts[3] == "invocations":
                return "mlflow", parts[2], None
        if parts[0] == "v2" and len(parts) >= 4 and parts[1] == "models" and parts[-1] == "infer":
            if len(parts) == 4:
                return "oip", parts[2], None
            if len(parts) == 6 and parts[3] == "versions":
                return "oip", parts[2], parts[4]
        if parts == ["invocations"]:
            return "mlflow", "", None
        return None

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length" and int(value) > self.max_body_bytes:
                raise BodyTooLarge(
                    f"the body is {int(value)} bytes; the limit is "
                    f"{self.max_body_bytes} (SHIPYARD_MAX_BODY_BYTES)"
                )
        chunks = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge(
                    f"the body is over the limit of {self.max_body_bytes} bytes "
                    "(SHIPYARD_MAX_BODY_BYTES)"
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _deployment_for_invocations(self) -> str:
        if self.default_deployment:
            return self.default_deployment
        names = self.dataplane.deployments()
        if len(names) == 1:
            return names[0]
        raise InvalidInput(
            f"/invocations needs one deployment to serve; this server has "
            f"{names or 'none'}: use /v1/deployments/NAME/invocations or start "
            "it with --default-deployment"
        )

    async def _handle(
        self,
        protocol: str,
        deployment: str,
        version: str | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 200
        served_version = "-"
        wanted: list[str] | None = None
        params: dict[str, Any] = {}
        tracked = deployment or "-"
        self.metrics.in_flight_change(tracked, 1)
        try:
            if protocol == "mlflow" and not deployment:
                deployment = self._deployment_for_invocations()
            route = self.dataplane.route(deployment)
            model = route.primary
            if version is not None and version != str(model.version.version):
                raise NotFound(
                    f"deployment {deployment!r} serves version "
                    f"{model.version.version}, not version {version}"
                )
            body = await self._read_body(scope, receive)
            if protocol == "mlflow" and _content_type(scope).startswith("text/csv"):
                rows, params = mlflow.decode_csv(body, model), {}
            else:
                payload = _parse_json(body)
                if protocol == "native":
                    rows = native.decode(payload, model)
                elif protocol == "oip":
                    rows, wanted = oip.decode(payload, model)
                else:
                    rows, params = mlflow.decode_json(payload, model)
            self._check_rows(rows)
            key = None
            if route.key_source == "header":
                key = _header(scope, route.key_name or "")
            elif route.key_column is not None:
                key = str(rows[0][route.key_column])
            answer = await self.dataplane.predict(
                deployment, rows, key=key, route=route, request_id=request_id
            )
            model, output = answer.model, answer.output
            served_version = str(model.version.version)
            if protocol == "native":
                response = native.encode(output, model, deployment, request_id, answer.arm)
            elif protocol == "oip":
                response = oip.encode(output, model, deployment, request_id, wanted)
            else:
                response = mlflow.encode(output, params)
        except ShipyardError as exc:
            status = http_status(exc)
            if status >= 500:
                logger.error("request %s to %s failed: %s", request_id, deployment, exc)
            message = str(exc) if status < 500 else internal_message(exc, request_id)
            response = _error_body(protocol, message, request_id, status)
        await _send_json(send, status, response, request_id)
        self.metrics.in_flight_change(tracked, -1)
        self.metrics.count_request(deployment, served_version, protocol, status)
        self.metrics.observe_latency(deployment, protocol, time.perf_counter() - started)

    def _check_rows(self, rows: list[list[Any]]) -> None:
        if len(rows) > self.max_rows:
            raise BodyTooLarge(
                f"the request has {len(rows)} rows; the limit is {self.max_rows} "
                "(SHIPYARD_MAX_ROWS_PER_REQUEST)"
            )

    async def _explain(
        self, protocol: str, deployment: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """An explain route: the same body limits, decoding and validation as predict."""
        assert self.explanations is not None
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 200
        served_version = "-"
        try:
            model = self.dataplane.route(deployment).primary
            payload = _parse_json(await self._read_body(scope, receive))
            rows = explain.decode(protocol, payload, model)
            self._check_rows(rows)
            served_version = str(model.version.version)
            try:
                predictions, rows_out = await self.explanations.explain(model, rows)
            except ShipyardError:
                raise
            except Exception as exc:
                raise ModelFailed(model.key, exc) from exc
            response = explain.encode(
                protocol, model, deployment, request_id, predictions, rows_out
            )
        except ShipyardError as exc:
            status = 501 if isinstance(exc, MissingDependency) else http_status(exc)
            if status >= 500:
                logger.error("explain %s of %s failed: %s", request_id, deployment, exc)
            public = status < 500 or isinstance(exc, MissingDependency)  # names the extra
            message = str(exc) if public else internal_message(exc, request_id)
            response = explain.error(protocol, message, request_id)
        await _send_json(send, status, response, request_id)
        label = f"{protocol}-explain"
        self.metrics.count_request(deployment, served_version, label, status)
        self.metrics.observe_latency(deployment, label, time.perf_counter() - started)


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from exc


def _error_body(protocol: str, message: str, request_id: str, status: int) -> dict[str, Any]:
    if protocol == "oip":
        return oip.error(message)
    if protocol == "mlflow":
        code = {
            404: "RESOURCE_DOES_NOT_EXIST",
            413: "BAD_REQUEST",
            503: "TEMPORARILY_UNAVAILABLE",
        }.get(status, "BAD_REQUEST")
        return mlflow.error(message, "INTERNAL_ERROR" if status == 500 else code)
    return native.error(message, request_id)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 0 < len(value) <= 128:
            return value.decode("latin-1")
    return uuid.uuid4().hex


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for header, value in scope["headers"]:
        if header == wanted:
            return value.decode("latin-1")
    return None


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").lower()
    return "application/json"


async def _send_json(send: Send, status: int, payload: Any, request_id: str) -> None:
    body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
