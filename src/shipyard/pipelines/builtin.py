"""The steps Shipyard provides: register a candidate, gate it, optimize it, deploy it.

They are ordinary steps written against the SDK, added with
``pipeline.add_step(gate(...))``; their options are checked when the
pipeline is registered.
"""

from __future__ import annotations

import json
from typing import Any

from shipyard.deploy.rollouts import RolloutSpec
from shipyard.entities import ModelVersion, Run
from shipyard.errors import DeploymentNotFound, InvalidInput, ModelNotFound
from shipyard.names import check_alias, check_name
from shipyard.pipelines.definition import Step, StepContext, Waiting
from shipyard.pipelines.gate import GateFailed, GateSpec, evaluate
from shipyard.store.dataset_store import DatasetRecord


def _step(
    name: str,
    builtin: str,
    function: Any,
    inputs: dict[str, str | None],
    *,
    returns: Any,
    input_types: dict[str, Any],
    after: list[str] | tuple[str, ...],
    approval: bool = False,
    options: dict[str, Any],
) -> Step:
    wired = {parameter: step for parameter, step in inputs.items() if step}
    return Step(
        name,
        function,
        wired,
        tuple(after),
        returns=returns,
        input_types={k: v for k, v in input_types.items() if k in wired},
        approval=approval,
        builtin=builtin,
        options=options,
    )


def _pipeline_tags(ctx: StepContext) -> dict[str, str]:
    return {"shipyard.pipeline": ctx.pipeline, "shipyard.pipeline_run": str(ctx.run_id)}


def register_model(
    *,
    model: str,
    candidate: str,
    reference: str | None = None,
    label: str = "target",
    artifact: str = "model",
    name: str = "register",
    after: list[str] | tuple[str, ...] = (),
) -> Step:
    """Register the model that step ``candidate`` logged (``run.log_model``) as a new
    version of ``model``; ``reference`` (a step returning a dataset version, label
    dropped) becomes the version's drift reference."""
    check_name(model, "model")

    def register(ctx: StepContext, **inputs: Any) -> ModelVersion:
        source = inputs["candidate"]
        if isinstance(source, ModelVersion):
            return source
        if not isinstance(source, Run):
            raise InvalidInput(
                f"step {ctx.step!r}: candidate step {candidate!r} returned "
                f"{type(source).__name__}; it should return the tracking Run that logged the model"
            )
        reference_data = None
        if "reference" in inputs:
            frame = ctx.client.load_dataset(inputs["reference"].uri)
            reference_data = frame.drop(columns=[label], errors="ignore")
        version = ctx.client.register_model(
            f"runs:/{source.id}/{artifact}",
            name=model,
            tags=_pipeline_tags(ctx),
            reference_data=reference_data,
        )
        ctx.log.info("registered %s from run %s", version.uri, source.id)
        return version

    return _step(
        name,
        "register",
        register,
        {"candidate": candidate, "reference": reference},
        returns=ModelVersion,
        input_types={"reference": DatasetRecord},
        after=after,
        options={"model": model, "label": label, "artifact": artifact},
    )


def gate(
    *,
    candidate: str,
    dataset: str,
    checks: list[str],
    label: str = "target",
    slices: list[dict[str, Any]] | None = None,
    fairness: list[dict[str, Any]] | dict[str, Any] | None = None,
    champion: str = "champion",
    min_slice_rows: int = 30,
    name: str = "gate",
    after: list[str] | tuple[str, ...] = (),
) -> Step:
    """Compare the version from step ``candidate`` with ``model@champion`` on the held-out
    dataset version from step ``dataset``; store the result with the candidate version
    (tags ``gate.status`` and ``gate.result``) and stop the run when a check fails."""
    spec = GateSpec.build(
        checks, label=label, slices=slices, fairness=fairness, min_slice_rows=min_slice_rows
    )
    check_alias(champion)

    def run_gate(ctx: StepContext, **inputs: Any) -> dict[str, Any]:
        version: ModelVersion = inputs["candidate"]
        held_out: DatasetRecord = inputs["dataset"]
        data = ctx.client.load_dataset(held_out.uri)
        current: ModelVersion | None
        try:
            current = ctx.client.get_model_version_by_alias(version.name, champion)
        except ModelNotFound:
            current = None
        if current is not None and current.version == version.version:
            current = None
        result = evaluate(
            spec,
            ctx.client.load_model(version.uri),
            ctx.client.load_model(current.uri) if current is not None else None,
            data,
            candidate_name=version.uri,
            champion_name=current.uri if current is not None else None,
            dataset=held_out.uri,
        )
        for check in result.checks:
            ctx.log.info("%s %s: %s", "PASS" if check.passed else "FAIL", check.name, check.detail)
        ctx.client.set_version_tag(
            version.name, version.version, "gate.result", json.dumps(result.to_dict())
        )
        ctx.client.set_version_tag(
            version.name, version.version, "gate.status", "passed" if result.passed else "failed"
        )
        if not result.passed:
            raise GateFailed(result)
        return result.to_dict()

    return _step(
        name,
        "gate",
        run_gate,
        {"candidate": candidate, "dataset": dataset},
        returns=dict,
        input_types={"candidate": ModelVersion, "dataset": DatasetRecord},
        after=after,
        options={
            "checks": list(checks),
            "label": label,
            "slices": slices,
            "fairness": fairness,
            "champion": champion,
        },
    )


def optimize(
    *,
    candidate: str,
    sample: str | None = None,
    max_diff: float = 1e-5,
    to: str = "onnx",
    name: str = "optimize",
    after: list[str] | tuple[str, ...] = (),
) -> Step:
    """Compile the version from step ``candidate`` to ONNX behind the parity gate
    (``Client.optimize``) and return the new version, so ``deploy`` can roll it out.
    ``sample`` is a step returning a dataset version (default: the candidate's
    reference data); a conversion that fails the gate fails the run."""
    if to != "onnx":
        raise InvalidInput(f"optimize: cannot optimize to {to!r}; supported: onnx")
    if not max_diff >= 0:
        raise InvalidInput(f"optimize: max_diff must be >= 0, got {max_diff}")

    def run_optimize(ctx: StepContext, **inputs: Any) -> ModelVersion:
        version: ModelVersion = inputs["candidate"]
        held_out: DatasetRecord | None = inputs.get("sample")
        result = ctx.client.optimize(
            version.uri,
            sample=held_out.uri if held_out is not None else None,
            max_diff=max_diff,
            to=to,
        )
        ctx.log.info(
            "optimized %s into %s: %s; %s",
            version.uri,
            result.version.uri,
            result.parity.summary(),
            result.latency.summary(),
        )
        return result.version

    return _step(
        name,
        "optimize",
        run_optimize,
        {"candidate": candidate, "sample": sample},
        returns=ModelVersion,
        input_types={"candidate": ModelVersion, "sample": DatasetRecord},
        after=after,
        options={"max_diff": max_diff, "to": to},
    )


def deploy(
    *,
    deployment: str,
    candidate: str,
    rollout: dict[str, Any] | None = None,
    alias: str = "challenger",
    champion: str = "champion",
    approval: bool = False,
    name: str = "deploy",
    after: list[str] | tuple[str, ...] = (),
) -> Step:
    """Give the version from step ``candidate`` the ``challenger`` alias and roll it out
    to ``deployment`` with ``rollout`` (a rollout spec without ``to``); the run ends
    with the rollout's outcome. A deployment that does not exist yet is created
    serving the version as champion. ``approval=True`` waits for a person first."""
    check_name(deployment, "deployment")
    check_alias(alias)
    rollout = dict(rollout or {})
    if "to" in rollout:
        raise InvalidInput("deploy: the rollout spec's 'to' is the candidate; leave it out")
    RolloutSpec.from_dict({"to": f"model@{alias}", **rollout})  # refuse a bad spec now

    def run_deploy(ctx: StepContext, **inputs: Any) -> Any:
        version: ModelVersion = inputs["candidate"]
        if version.tags.get("gate.status") == "failed":
            raise InvalidInput(f"{version.uri} failed its gate; it is not deployed")
        try:
            ctx.client.get_deployment(deployment)
        except DeploymentNotFound:
            ctx.client.set_alias(version.name, champion, version.version)
            ctx.client.create_deployment(deployment, f"{version.name}@{champion}")
            ctx.log.info("created deployment %s serving %s", deployment, version.uri)
            return {"deployment": deployment, "version": version.version, "outcome": "created"}
        ctx.client.set_alias(version.name, alias, version.version)
        spec = RolloutSpec.from_dict({"to": f"{version.name}@{alias}", **rollout})
        record = ctx.client.start_rollout(deployment, spec)
        ctx.log.info(
            "rollout %s of %s to %s started (steps %s%%)",
            record.id,
            version.uri,
            deployment,
            [int(s) for s in spec.steps],
        )
        return Waiting(
            "rollout",
            "deploying",
            {"rollout": record.id, "deployment": deployment, "version": version.version},
        )

    return _step(
        name,
        "deploy",
        run_deploy,
        {"candidate": candidate},
        returns=dict,
        input_types={"candidate": ModelVersion},
        after=after,
        approval=approval,
        options={"deployment": deployment, "rollout": rollout, "alias": alias},
    )
