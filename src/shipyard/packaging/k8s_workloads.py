"""The workloads: serving replicas, the pipeline worker, stream consumers, batch jobs.

Every one runs the same image as the same numeric user; what differs is the
``shipyard`` command, whether it listens, and how it is scheduled.
"""

from __future__ import annotations

from typing import Any

from shipyard.packaging import k8s_pods as pods
from shipyard.packaging.dockerfile import PORT
from shipyard.packaging.k8s_options import K8sOptions

Obj = dict[str, Any]
STREAM_METRICS_PORT = 9100
#: The label Kubernetes (1.27+) puts on a Job's pods: a retried pod resumes the same
#: Shipyard batch job (same name), a CronJob's next run starts a new one.
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def serve_args(deployment: str, options: K8sOptions) -> list[str]:
    """``shipyard serve`` as a replica runs it: one process per pod (scale with replicas),
    threads from the CPU limit, pipelines left to the worker when there is one."""
    args = [
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--workers",
        "1",
        "--default-deployment",
        deployment,
        "--model-threads",
        "$(SHIPYARD_MODEL_THREADS)",
    ]
    if options.worker:
        args.append("--no-pipelines")
    if options.open_metrics:
        args.append("--open-metrics")
    return args


def serving_container(deployment: str, config_map: str, options: K8sOptions) -> Obj:
    return pods.container(
        "shipyard", serve_args(deployment, options), config_map, options, **pods.probes(options)
    )


def serving_deployment(
    name: str, deployment: str, config_map: str, options: K8sOptions, *, hpa: bool
) -> Obj:
    """The serving replicas. With an HPA, ``replicas`` is left out: re-applying the file
    would otherwise reset whatever the autoscaler chose."""
    template = _template(
        name,
        "serving",
        {
            **_deployment_annotation(deployment),
            **pods.scrape_annotations(PORT, options.open_metrics),
        },
        pods.pod_spec(
            [serving_container(deployment, config_map, options)], options.grace_s, options
        ),
    )
    template["spec"]["topologySpreadConstraints"] = pods.spread(pods.labels(name, "serving"))
    spec: Obj = {
        "selector": {"matchLabels": pods.labels(name, "serving")},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "minReadySeconds": 5,
        "template": template,
    }
    if not hpa:
        spec = {"replicas": options.replicas, **spec}
    return _object("apps/v1", "Deployment", name, name, "serving", options, spec)


def worker_deployment(
    name: str, base: str, deployment: str, config_map: str, options: K8sOptions
) -> Obj:
    """``shipyard worker``: pipeline triggers and executions. One replica; a lease in the
    store keeps a second one (during a rolling update) from running the same work."""
    container = pods.container("worker", ["worker"], config_map, options)
    return _object(
        "apps/v1",
        "Deployment",
        name,
        base,
        "worker",
        options,
        {
            "replicas": 1,
            "selector": {"matchLabels": pods.labels(base, "worker")},
            "template": _template(
                base,
                "worker",
                _deployment_annotation(deployment),
                pods.pod_spec([container], 60, options),
            ),
        },
    )


def stream_deployment(
    name: str, base: str, deployment: str, config_map: str, options: K8sOptions
) -> Obj:
    """``shipyard stream consume``: one consumer per pod, named after the pod; the Redis URL
    (with its password) comes from the Secret. A consumer acknowledges a message only with
    its result, so a pod replaced mid-batch loses nothing; others reclaim its pending
    messages after ``--min-idle``."""
    assert options.stream is not None
    args = [
        "stream",
        "consume",
        deployment,
        "--stream",
        options.stream,
        "--group",
        options.stream_group or base,
        "--consumer",
        "$(POD_NAME)",
        "--metrics-port",
        str(STREAM_METRICS_PORT),
        "--metrics-host",
        "0.0.0.0",
        "--model-threads",
        "$(SHIPYARD_MODEL_THREADS)",
    ]
    container = pods.container(
        "stream",
        args,
        config_map,
        options,
        ports=[{"name": "metrics", "containerPort": STREAM_METRICS_PORT, "protocol": "TCP"}],
    )
    container["env"].append(pods.secret_env("SHIPYARD_REDIS_URL", options))
    template = _template(
        base,
        "stream",
        {**_deployment_annotation(deployment), **pods.scrape_annotations(STREAM_METRICS_PORT)},
        pods.pod_spec([container], 60, options),
    )
    template["spec"]["topologySpreadConstraints"] = pods.spread(pods.labels(base, "stream"))
    return _object(
        "apps/v1",
        "Deployment",
        name,
        base,
        "stream",
        options,
        {
            "replicas": options.stream_replicas,
            "selector": {"matchLabels": pods.labels(base, "stream")},
            "template": template,
        },
    )


def batch_job_spec(base: str, deployment: str, config_map: str, options: K8sOptions) -> Obj:
    """One ``shipyard batch predict`` run; the Shipyard job is named after the Kubernetes
    Job, so a pod retried by ``backoffLimit`` resumes the partitions already written."""
    args = [
        "batch",
        "predict",
        deployment,
        "--input",
        options.batch_input,
        "--output",
        options.batch_output.rstrip("/") + "/$(SHIPYARD_BATCH_JOB)",
        "--job",
        "$(SHIPYARD_BATCH_JOB)",
        "--workers",
        "1",
        "--model-threads",
        "$(SHIPYARD_MODEL_THREADS)",
        "--json",
    ]
    container = pods.container("batch", args, config_map, options)
    container["env"].insert(
        0,
        {
            "name": "SHIPYARD_BATCH_JOB",
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{JOB_NAME_LABEL}']"}},
        },
    )
    template = _template(
        base,
        "batch",
        _deployment_annotation(deployment),
        pods.pod_spec([container], 60, options, restart="Never"),
    )
    return {"backoffLimit": 3, "ttlSecondsAfterFinished": 7 * 24 * 3600, "template": template}


def batch_job(name: str, base: str, deployment: str, config_map: str, options: K8sOptions) -> Obj:
    spec = batch_job_spec(base, deployment, config_map, options)
    return _object("batch/v1", "Job", name, base, "batch", options, spec)


def batch_cronjob(
    name: str, base: str, deployment: str, config_map: str, options: K8sOptions
) -> Obj:
    """The same job on a schedule; never two at once (they would compete for the output)."""
    spec = {
        "schedule": options.batch_schedule.strip(),
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 3600,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {"spec": batch_job_spec(base, deployment, config_map, options)},
    }
    return _object("batch/v1", "CronJob", name, base, "batch", options, spec)


def _deployment_annotation(deployment: str) -> dict[str, str]:
    """The Shipyard name as it is (labels hold the sanitized form)."""
    return {"shipyard.dev/deployment": deployment}


def _template(base: str, component: str, annotations: dict[str, str], spec: Obj) -> Obj:
    return {
        "metadata": {"labels": pods.labels(base, component), "annotations": annotations},
        "spec": spec,
    }


def _object(
    api: str, kind: str, name: str, base: str, component: str, options: K8sOptions, spec: Obj
) -> Obj:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": pods.metadata(name, base, component, options),
        "spec": spec,
    }
