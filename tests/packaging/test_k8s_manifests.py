"""What the manifests promise about the real server: probe paths it serves, the port
the Service reaches, a grace period longer than its drain, valid names."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.cli import serve as serve_cli
from shipyard.config import ServerSettings
from shipyard.errors import InvalidInput
from shipyard.packaging.dockerfile import PORT
from shipyard.packaging.k8s import build_manifests
from shipyard.packaging.k8s_names import base_name, dns_label, is_dns_label
from shipyard.packaging.k8s_options import PRESTOP_S, K8sOptions, has_credentials
from shipyard.server.app import create_app
from shipyard.server.route_permissions import OPEN, ROUTES
from tests.packaging.conftest import by_kind, deployment


def _pod_specs(manifests) -> list[dict[str, Any]]:
    specs = []
    for m in manifests:
        spec = m.obj.get("spec", {})
        if m.kind == "Deployment" or m.kind == "Job":
            specs.append(spec["template"]["spec"])
        elif m.kind == "CronJob":
            specs.append(spec["jobTemplate"]["spec"]["template"]["spec"])
        elif m.kind == "InferenceService":
            specs.append(spec["predictor"])
    return specs


def _serving_container(manifests) -> dict[str, Any]:
    for m in manifests:
        if m.kind == "InferenceService":
            return m.obj["spec"]["predictor"]["containers"][0]
        if (
            m.kind == "Deployment"
            and m.obj["metadata"]["labels"]["app.kubernetes.io/component"] == "serving"
        ):
            return m.obj["spec"]["template"]["spec"]["containers"][0]
    raise AssertionError("no serving container")


def test_probe_paths_are_open_routes_the_server_serves(manifest_sets, sqlite_client: Client):
    paths = set()
    for key in ("default", "kserve"):
        container = _serving_container(manifest_sets[key])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            paths.add(container[probe]["httpGet"]["path"])
    assert paths == {"/v2/health/live", "/v2/health/ready"}
    for path in paths:
        assert ROUTES[("GET", path)] == OPEN  # a kubelet has no token
    app = create_app(ServerSettings(), client=sqlite_client)
    with TestClient(app) as http:  # auth on, no token: what the kubelet sends
        for path in paths:
            assert http.get(path).status_code == 200, path


def test_the_service_reaches_the_container_port(manifest_sets):
    manifests = manifest_sets["default"]
    [svc] = by_kind(manifests, "Service")
    container = _serving_container(manifests)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    [service_port] = svc["spec"]["ports"]
    assert ports[service_port["targetPort"]] == PORT
    assert container["args"][container["args"].index("--port") + 1] == str(PORT)
    name = svc["metadata"]["name"]
    [deploy] = [d for d in by_kind(manifests, "Deployment") if d["metadata"]["name"] == name]
    assert svc["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    assert deploy["spec"]["template"]["metadata"]["labels"] == svc["spec"]["selector"]


@pytest.mark.parametrize("key", ["default", "kserve"])
def test_termination_grace_outlasts_the_servers_drain(manifest_sets, key, monkeypatch):
    container = _serving_container(manifest_sets[key])
    env = {e["name"]: e for e in container["env"]}
    drain = env["SHIPYARD_GRACEFUL_SHUTDOWN_S"]["value"]
    monkeypatch.setenv("SHIPYARD_GRACEFUL_SHUTDOWN_S", drain)
    drain_s = ServerSettings().graceful_shutdown_s  # what `shipyard serve` will use
    assert drain_s == int(drain) == ServerSettings.model_fields["graceful_shutdown_s"].default
    assert "timeout_graceful_shutdown=settings.graceful_shutdown_s" in inspect.getsource(
        serve_cli.serve
    )
    prestop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert prestop == ["sleep", str(PRESTOP_S)]
    [spec] = [s for s in _pod_specs(manifest_sets[key]) if s["containers"][0] is container]
    assert spec["terminationGracePeriodSeconds"] > PRESTOP_S + drain_s
    longer = build_manifests(deployment(), K8sOptions(drain_s=120))
    [spec] = [s for s in _pod_specs(longer) if s["containers"][0]["name"] == "shipyard"]
    assert spec["terminationGracePeriodSeconds"] > PRESTOP_S + 120


def test_threads_follow_the_cpu_limit_and_pods_are_hardened(manifest_sets):
    for key, manifests in manifest_sets.items():
        for spec in _pod_specs(manifests):
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["automountServiceAccountToken"] is False
            assert spec["enableServiceLinks"] is False
            mounts_needed = {v["name"] for v in spec["volumes"]}
            for container in spec["containers"]:
                security = container["securityContext"]
                assert security["readOnlyRootFilesystem"] is True, key
                assert security["allowPrivilegeEscalation"] is False
                assert security["capabilities"] == {"drop": ["ALL"]}
                assert security["runAsUser"] == 10001
                assert {m["name"] for m in container["volumeMounts"]} == mounts_needed
                assert set(container["resources"]) == {"requests", "limits"}
                env = {e["name"]: e.get("valueFrom", {}) for e in container["env"]}
                for name in ("SHIPYARD_MODEL_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                    ref = env[name]["resourceFieldRef"]
                    assert ref == {
                        "containerName": container["name"],
                        "resource": "limits.cpu",
                        "divisor": "1",
                    }
                if container["args"] != ["worker"]:  # the worker's steps read OMP_* etc.
                    assert "$(SHIPYARD_MODEL_THREADS)" in container["args"]


def test_pipelines_run_in_the_worker_not_in_serving_replicas(manifest_sets):
    serving = _serving_container(manifest_sets["default"])
    assert "--no-pipelines" in serving["args"]
    deployments = by_kind(manifest_sets["default"], "Deployment")
    workers = [d for d in deployments if d["metadata"]["name"].endswith("-worker")]
    assert workers[0]["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    alone = _serving_container(manifest_sets["closed-metrics"])  # no worker
    assert "--no-pipelines" not in alone["args"] and "--open-metrics" not in alone["args"]


@pytest.mark.parametrize(
    "name",
    ["fraud", "Fraud_Model.v2", "9lives", "a" * 256, "x.y_z-", "UPPER-case", "a--b"],
)
def test_every_name_is_a_dns_label(name: str):
    manifests = build_manifests(deployment(name), K8sOptions(stream="s", service_monitor=True))
    for m in manifests:
        meta_name = m.obj["metadata"]["name"]
        assert is_dns_label(meta_name), meta_name
        assert meta_name[0].isalpha()  # DNS-1035, for the Service
        if m.kind == "CronJob":
            assert len(meta_name) <= 52
        for value in m.obj["metadata"]["labels"].values():
            assert is_dns_label(value), value
    for spec in _pod_specs(manifests):
        for container in spec["containers"]:
            assert is_dns_label(container["name"])
            for port in container.get("ports", []):
                assert len(port["name"]) <= 15
            if container["args"] != ["worker"]:  # the worker serves no one deployment
                assert name in container["args"]  # the real Shipyard name is what runs


def test_names_that_sanitize_alike_stay_distinct():
    assert dns_label("fraud") == "fraud"
    assert dns_label("fraud_model") != dns_label("fraud.model")
    assert base_name("fraud_model") != base_name("fraud-model")
    assert len(base_name("x" * 256)) <= 44


def test_credentials_never_go_into_a_config_map():
    assert has_credentials("s3://key:secret@bucket/x")
    assert has_credentials("s3://bucket/x?secret=abc")
    assert not has_credentials("s3://bucket/shipyard")
    with pytest.raises(InvalidInput, match="Secret"):
        K8sOptions(artifacts_url="s3://key:secret@bucket/x")
    with pytest.raises(InvalidInput, match="quantity"):
        K8sOptions(cpu_limit="one")
    with pytest.raises(InvalidInput, match="max-replicas"):
        K8sOptions(replicas=3, max_replicas=2)
    with pytest.raises(InvalidInput, match="DNS-1123"):
        K8sOptions(namespace="ML_team")
    with pytest.raises(InvalidInput, match="cron"):
        K8sOptions(batch_schedule="nightly")


def _expanded(args: list[str]) -> list[str]:
    """Arguments as the kubelet expands them (``$(VAR)`` from the container's env)."""
    values = {"$(SHIPYARD_MODEL_THREADS)": "1", "$(POD_NAME)": "pod-0"}
    values["$(SHIPYARD_BATCH_JOB)"] = "shipyard-fraud-batch-29000000"
    out = []
    for arg in args:
        for var, value in values.items():
            arg = arg.replace(var, value)
        assert "$(" not in arg, arg
        out.append(arg)
    return out


def test_every_command_parses_with_the_real_cli(manifest_sets, monkeypatch):
    """Each container's ``shipyard ARGS`` names a command and options that exist, with
    values of the right type (parsed by the CLI itself, not run), in the environment the
    pod gives it (options such as ``--redis`` come from Secret keys)."""
    import typer.main

    from shipyard.cli.main import app

    root = typer.main.get_command(app)
    seen = set()
    for manifests in manifest_sets.values():
        for spec in _pod_specs(manifests):
            for container in spec["containers"]:
                assert container["command"] == ["shipyard"]
                args = _expanded(container["args"])
                for env in container["env"]:
                    monkeypatch.setenv(env["name"], env.get("value", "from-the-pod"))
                command = root
                while args and args[0] in getattr(command, "commands", {}):
                    name, args = args[0], args[1:]
                    command = command.commands[name]  # type: ignore[attr-defined]
                    seen.add(name)
                command.make_context(command.name, list(args))  # raises on any bad option
                for env in container["env"]:
                    monkeypatch.delenv(env["name"])
                for env in container["env"]:
                    ref = env.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", "")
                    if "labels[" in ref:
                        assert "batch.kubernetes.io/job-name" in ref
    assert {"serve", "worker", "predict", "consume"} <= seen


def test_an_encrypted_workspace_gets_its_key_from_a_secret(manifest_sets, tmp_path):
    from shipyard.config import StoreSettings
    from shipyard.sdk.keys import create_key_file

    for key in ("full", "kserve"):
        for spec in _pod_specs(manifest_sets[key]):
            [volume] = [v for v in spec["volumes"] if v["name"] == "encryption-key"]
            assert volume["secret"] == {"secretName": "shipyard-key", "defaultMode": 0o440}
            for container in spec["containers"]:
                env = {e["name"]: e.get("value") for e in container["env"]}
                mount = next(m for m in container["volumeMounts"] if m["name"] == "encryption-key")
                assert mount["readOnly"] is True
                assert env["SHIPYARD_ENCRYPTION_KEY_FILE"] == mount["mountPath"] + "/key"
    key_file = tmp_path / "workspace.key"
    create_key_file(key_file)
    settings = StoreSettings(home=tmp_path / "ws", encryption_key_file=key_file, user="tester")
    with Client(settings=settings) as encrypted:
        import pandas as pd
        from sklearn.dummy import DummyClassifier

        X = pd.DataFrame({"a": [0.0, 1.0]})
        encrypted.register_model(DummyClassifier().fit(X, [0, 1]), name="m", sample_input=X)
        encrypted.create_deployment("m", "m/1")
        with pytest.raises(InvalidInput, match="encrypts its artifacts"):
            encrypted.kubernetes_manifests("m")
        written = encrypted.kubernetes_manifests("m", K8sOptions(encryption_secret="m-key"))
        assert key_file.read_text().strip() not in json.dumps([m.obj for m in written])
