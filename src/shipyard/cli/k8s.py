"""``shipyard k8s``: write Kubernetes manifests for a deployment (no cluster needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import console, state
from shipyard.cli.output import print_json, table
from shipyard.packaging.k8s_names import base_name
from shipyard.packaging.k8s_options import K8sOptions


def k8s(
    deployment: Annotated[str, typer.Argument(help="The deployment to run on Kubernetes.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the YAML files.")],
    image: Annotated[str, typer.Option(help="The image `shipyard build` made.")] = K8sOptions.image,
    replicas: Annotated[
        int, typer.Option(min=1, help="Serving replicas (the autoscaler's minimum).")
    ] = K8sOptions.replicas,
    max_replicas: Annotated[
        int | None, typer.Option(min=1, help="The autoscaler's maximum [default: 4 x replicas].")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Namespace [default: kubectl's current one].")
    ] = None,
    kserve: Annotated[
        bool,
        typer.Option(
            "--kserve",
            help="A KServe InferenceService instead of Deployment, Service and autoscaler.",
        ),
    ] = False,
    cpu_request: Annotated[str, typer.Option(help="CPU per replica, requested.")] = "500m",
    cpu_limit: Annotated[
        str, typer.Option(help="CPU limit; model threads follow it (rounded up).")
    ] = "1",
    memory_request: Annotated[str, typer.Option(help="Memory requested.")] = "1Gi",
    memory_limit: Annotated[str, typer.Option(help="Memory limit.")] = "1Gi",
    target_cpu: Annotated[
        int, typer.Option(help="Autoscaler target: % of the CPU request.")
    ] = K8sOptions.target_cpu_percent,
    startup_timeout: Annotated[
        int, typer.Option(help="Seconds a replica may take to load its models.")
    ] = K8sOptions.startup_timeout_s,
    drain: Annotated[
        int, typer.Option(help="Seconds a stopping replica finishes requests in flight.")
    ] = K8sOptions.drain_s,
    secret: Annotated[
        str, typer.Option(help="The Secret you create (SHIPYARD_DB_URL, ...); never written.")
    ] = K8sOptions.secret,
    encryption_key_secret: Annotated[
        str | None,
        typer.Option(
            help="A Secret holding the workspace's encryption key as `key` (mounted read-only)."
        ),
    ] = None,
    artifacts_url: Annotated[
        str | None,
        typer.Option(
            help="Object-store URL of the artifacts, without credentials "
            "[default: the store's, if it is one; else read from the Secret]."
        ),
    ] = None,
    open_metrics: Annotated[
        bool, typer.Option(help="/metrics without a token, for Prometheus annotations.")
    ] = True,
    service_monitor: Annotated[
        bool, typer.Option("--service-monitor", help="Also a Prometheus-operator ServiceMonitor.")
    ] = False,
    worker: Annotated[
        bool, typer.Option(help="A `shipyard worker` Deployment runs the pipelines.")
    ] = True,
    batch: Annotated[bool, typer.Option(help="Batch Job and CronJob templates.")] = True,
    batch_input: Annotated[
        str, typer.Option(help="The batch job's input.")
    ] = K8sOptions.batch_input,
    batch_output: Annotated[
        str, typer.Option(help="The batch job's output folder (one subfolder per job).")
    ] = K8sOptions.batch_output,
    batch_schedule: Annotated[
        str, typer.Option(help="The CronJob's schedule.")
    ] = K8sOptions.batch_schedule,
    stream: Annotated[
        str | None, typer.Option(help="A Redis stream to consume: adds a consumer Deployment.")
    ] = None,
    stream_group: Annotated[
        str | None, typer.Option(help="Its consumer group [default: the object name].")
    ] = None,
    stream_replicas: Annotated[int, typer.Option(min=1, help="Consumers.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Write Kubernetes manifests: serving replicas, worker, batch, stream, monitoring."""
    options = K8sOptions(
        image=image,
        replicas=replicas,
        max_replicas=max_replicas,
        namespace=namespace,
        kserve=kserve,
        cpu_request=cpu_request,
        cpu_limit=cpu_limit,
        memory_request=memory_request,
        memory_limit=memory_limit,
        target_cpu_percent=target_cpu,
        startup_timeout_s=startup_timeout,
        drain_s=drain,
        secret=secret,
        encryption_secret=encryption_key_secret,
        artifacts_url=artifacts_url,
        open_metrics=open_metrics,
        service_monitor=service_monitor,
        worker=worker,
        batch=batch,
        batch_input=batch_input,
        batch_output=batch_output,
        batch_schedule=batch_schedule,
        stream=stream,
        stream_group=stream_group,
        stream_replicas=stream_replicas,
    )
    manifests = state.client.write_kubernetes_manifests(deployment, out, options)
    files = [{"file": str(out / m.path), "kind": m.kind, "name": m.name} for m in manifests]
    if as_json:
        print_json({"deployment": deployment, "name": base_name(deployment), "files": files})
        return
    table(None, ["file", "kind", "name"], [(f["file"], f["kind"], f["name"]) for f in files])
    ns = f"-n {namespace} " if namespace else ""
    keys = "--from-literal=SHIPYARD_DB_URL=..."
    if options.artifacts_url is None and not any(
        m.kind == "ConfigMap" and "SHIPYARD_ARTIFACTS_URL" in m.obj["data"] for m in manifests
    ):
        keys += " --from-literal=SHIPYARD_ARTIFACTS_URL=s3://..."
    if stream:
        keys += " --from-literal=SHIPYARD_REDIS_URL=redis://..."
    console.print(
        f"create the Secret first (docs/kubernetes.md): kubectl {ns}create secret generic "
        f"{secret} {keys}\nthen: kubectl {ns}apply -f {out}",
        highlight=False,
        soft_wrap=True,
    )
