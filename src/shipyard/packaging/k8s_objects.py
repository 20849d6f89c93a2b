"""The objects around the serving replicas: Service, autoscaler, disruption budget,
settings, Prometheus discovery, and KServe's InferenceService in their place."""

from __future__ import annotations

from typing import Any

from shipyard.packaging import k8s_pods as pods
from shipyard.packaging.dockerfile import HOME, PORT
from shipyard.packaging.k8s_options import K8sOptions
from shipyard.packaging.k8s_workloads import serving_container

Obj = dict[str, Any]


def service(base: str, options: K8sOptions) -> Obj:
    """A ClusterIP Service on port 80 in front of the replicas' named port ``http``."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pods.metadata(base, base, "serving", options),
        "spec": {
            "type": "ClusterIP",
            "selector": pods.labels(base, "serving"),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(base: str, options: K8sOptions) -> Obj:
    """CPU utilisation of the requests: one process per pod, so CPU tracks load."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": pods.metadata(base, base, "serving", options),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": base},
            "minReplicas": options.replicas,
            "maxReplicas": options.hpa_max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": options.target_cpu_percent,
                        },
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def disruption_budget(base: str, options: K8sOptions) -> Obj:
    """At most one replica evicted at a time by drains and upgrades."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": pods.metadata(base, base, "serving", options),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": pods.labels(base, "serving")},
        },
    }


def config_map(name: str, base: str, deployment: str, options: K8sOptions) -> Obj:
    """Settings that are not secret. The database URL never goes here; the artifact URL
    only when it carries no credentials (checked by ``K8sOptions``)."""
    data = {"SHIPYARD_HOME": HOME, "SHIPYARD_DEFAULT_DEPLOYMENT": deployment}
    if options.artifacts_url is not None:
        data["SHIPYARD_ARTIFACTS_URL"] = options.artifacts_url
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": pods.metadata(name, base, "config", options),
        "data": data,
    }


def service_monitor(base: str, options: K8sOptions) -> Obj:
    """For clusters with the Prometheus operator. Without ``--open-metrics`` it sends a
    token from the Secret's ``SHIPYARD_METRICS_TOKEN`` (a token with the reader role)."""
    endpoint: Obj = {"port": "http", "path": "/metrics", "interval": "30s"}
    if not options.open_metrics:
        endpoint["authorization"] = {
            "type": "Bearer",
            "credentials": {"name": options.secret, "key": "SHIPYARD_METRICS_TOKEN"},
        }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": pods.metadata(base, base, "serving", options),
        "spec": {
            "selector": {"matchLabels": pods.labels(base, "serving")},
            "endpoints": [endpoint],
        },
    }


def inference_service(base: str, deployment: str, config_map: str, options: K8sOptions) -> Obj:
    """KServe's InferenceService with the Shipyard image as a custom predictor.

    RawDeployment mode: KServe creates a plain Deployment, Service and HPA, so the
    probes, preStop hook and security context above apply unchanged (Knative's
    serverless mode refuses user lifecycle hooks: knative/serving#687, #16463).
    """
    container = serving_container(deployment, config_map, options)
    container["name"] = "kserve-container"  # the name KServe looks for
    for env in container["env"]:
        ref = env.get("valueFrom", {}).get("resourceFieldRef")
        if ref is not None:
            ref["containerName"] = "kserve-container"
    meta = pods.metadata(base, base, "serving", options)
    meta["annotations"] = {
        # "Standard" in recent KServe, which still accepts (normalizes) the older name.
        "serving.kserve.io/deploymentMode": "RawDeployment",
        "serving.kserve.io/autoscalerClass": "hpa",
        "serving.kserve.io/enable-prometheus-scraping": "true" if options.open_metrics else "false",
        "prometheus.kserve.io/port": str(PORT),
        "prometheus.kserve.io/path": "/metrics",
        "shipyard.dev/deployment": deployment,
    }
    spec = pods.pod_spec([container], options.grace_s, options)
    # KServe labels the predictor's pods itself; spread on the label it sets.
    spec["topologySpreadConstraints"] = pods.spread({"serving.kserve.io/inferenceservice": base})
    predictor: Obj = {
        "minReplicas": options.replicas,
        "maxReplicas": options.hpa_max,
        "scaleMetric": "cpu",
        "scaleTarget": options.target_cpu_percent,
        **spec,
    }
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": predictor},
    }
