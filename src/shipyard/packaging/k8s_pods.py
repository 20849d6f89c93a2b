"""Pod templates shared by every Shipyard workload: security, resources, environment.

Each process the manifests start (serving replica, worker, stream consumer,
batch job) runs the same image with the same hardening, so the parts live here
once and the workloads differ only in their arguments, ports and probes.
"""

from __future__ import annotations

from typing import Any

from shipyard.packaging.dockerfile import HOME, PORT, UID
from shipyard.packaging.k8s_options import KEY_DIR, PRESTOP_S, K8sOptions

Obj = dict[str, Any]

#: Native thread pools sized from the container's CPU limit (rounded up to whole
#: cores by the downward API): a pod must not start one thread per host core.
THREAD_VARIABLES = (
    "SHIPYARD_MODEL_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def labels(base: str, component: str) -> dict[str, str]:
    """The selector labels of one workload (stable: a Deployment's selector is immutable)."""
    return {
        "app.kubernetes.io/name": "shipyard",
        "app.kubernetes.io/instance": base,
        "app.kubernetes.io/component": component,
    }


def metadata(name: str, base: str, component: str, options: K8sOptions) -> Obj:
    meta: Obj = {
        "name": name,
        "labels": {**labels(base, component), "app.kubernetes.io/managed-by": "shipyard"},
    }
    if options.namespace:
        meta["namespace"] = options.namespace
    return meta


def container_security() -> Obj:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security() -> Obj:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(options: K8sOptions) -> Obj:
    return {
        "requests": {"cpu": options.cpu_request, "memory": options.memory_request},
        "limits": {"cpu": options.cpu_limit, "memory": options.memory_limit},
    }


def environment(container: str, options: K8sOptions) -> list[Obj]:
    """Thread counts from the CPU limit, the drain time, and the required secret keys.

    ``SHIPYARD_DB_URL`` is named explicitly (besides ``envFrom``) so that a Secret
    without it stops the pod at creation with a clear event, not at the first query.
    """
    env: list[Obj] = [
        {
            "name": name,
            "valueFrom": {
                "resourceFieldRef": {
                    "containerName": container,
                    "resource": "limits.cpu",
                    "divisor": "1",
                }
            },
        }
        for name in THREAD_VARIABLES
    ]
    env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    env.append({"name": "SHIPYARD_GRACEFUL_SHUTDOWN_S", "value": str(options.drain_s)})
    env.append(secret_env("SHIPYARD_DB_URL", options))
    if options.artifacts_url is None:
        env.append(secret_env("SHIPYARD_ARTIFACTS_URL", options))
    if options.encryption_secret is not None:
        env.append({"name": "SHIPYARD_ENCRYPTION_KEY_FILE", "value": f"{KEY_DIR}/key"})
    return env


def secret_env(key: str, options: K8sOptions) -> Obj:
    """A variable read from the user's Secret (never a value written here)."""
    return {"name": key, "valueFrom": {"secretKeyRef": {"name": options.secret, "key": key}}}


def env_from(config_map: str, options: K8sOptions) -> list[Obj]:
    """Non-secret settings from the ConfigMap, then the Secret (object-store keys, ...)."""
    return [{"configMapRef": {"name": config_map}}, {"secretRef": {"name": options.secret}}]


def container(
    name: str, args: list[str], config_map: str, options: K8sOptions, **extra: Any
) -> Obj:
    """One hardened container running ``shipyard ARGS`` (``$(VAR)`` expands from env)."""
    spec: Obj = {
        "name": name,
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["shipyard"],
        "args": args,
        "env": environment(name, options),
        "envFrom": env_from(config_map, options),
        "resources": resources(options),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "home", "mountPath": HOME},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    if options.encryption_secret is not None:
        spec["volumeMounts"].append(
            {"name": "encryption-key", "mountPath": KEY_DIR, "readOnly": True}
        )
    spec.update(extra)
    return spec


def volumes(options: K8sOptions) -> list[Obj]:
    """Writable scratch space (the workspace folder: artifact cache; /tmp) and, for an
    encrypted workspace, its key from a Secret: readable by the pod's group (fsGroup)
    only, never written into a manifest."""
    found: list[Obj] = [
        {"name": "home", "emptyDir": {"sizeLimit": "2Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}},
    ]
    if options.encryption_secret is not None:
        secret = {"secretName": options.encryption_secret, "defaultMode": 0o440}
        found.append({"name": "encryption-key", "secret": secret})
    return found


def pod_spec(
    containers: list[Obj], grace_s: int, options: K8sOptions, *, restart: str | None = None
) -> Obj:
    """A pod that talks to nothing in the Kubernetes API and gets no service links
    (a Service named ``shipyard`` would otherwise inject ``SHIPYARD_PORT=tcp://...``,
    which the ``SHIPYARD_`` settings would read)."""
    spec: Obj = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(),
        "terminationGracePeriodSeconds": grace_s,
        "containers": containers,
        "volumes": volumes(options),
    }
    if restart is not None:
        spec["restartPolicy"] = restart
    return spec


def spread(selector: dict[str, str]) -> list[Obj]:
    """Replicas spread over nodes and zones (soft: never blocks a scale-out)."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
            "matchLabelKeys": ["pod-template-hash"],
        }
        for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
    ]


def probes(options: K8sOptions) -> Obj:
    """Liveness and readiness on the OIP v2 health routes; a startup probe gives model
    loading ``startup_timeout_s`` (nothing listens until every model is loaded)."""

    def get(path: str, period: int, failures: int) -> Obj:
        return {
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": failures,
        }

    return {
        "startupProbe": get("/v2/health/live", 5, max(1, options.startup_timeout_s // 5)),
        "livenessProbe": get("/v2/health/live", 10, 3),
        "readinessProbe": get("/v2/health/ready", 5, 2),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_S)]}}},
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
    }


def scrape_annotations(port: int, enabled: bool = True) -> dict[str, str]:
    """The prometheus.io annotations a scrape config keyed on them reads (only when
    /metrics needs no token: annotations cannot carry one)."""
    if not enabled:
        return {}
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
