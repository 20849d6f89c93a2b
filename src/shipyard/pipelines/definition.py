"""How a pipeline is declared: a ``Pipeline`` object with ordered, typed steps.

A pipeline file builds one ``Pipeline`` and adds steps to it::

    pipeline = Pipeline(params={"dataset": "fraud"}, triggers=[on_alert("fraud-drift")])

    @pipeline.step
    def ingest(ctx: StepContext) -> DatasetRecord: ...

    @pipeline.step(cache=True)
    def train(ctx: StepContext, ingest: DatasetRecord) -> Run: ...

A step's parameters after ``ctx`` name the steps whose outputs it takes, so
the dependency graph is the signatures; the annotations are the types that
are checked when the pipeline is registered (does ``ingest`` return what
``train`` takes?) and when a step returns.
"""

from __future__ import annotations

import graphlib
import hashlib
import inspect
import logging
import marshal
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipyard.entities import ModelVersion, Run
from shipyard.errors import InvalidInput
from shipyard.names import check_name
from shipyard.pipelines.triggers import TriggerSpec, parse_trigger
from shipyard.store.dataset_store import DatasetRecord

logger = logging.getLogger(__name__)

# What steps may take and return: references to stored things, or JSON values.
REFERENCE_TYPES: tuple[type, ...] = (DatasetRecord, Run, ModelVersion)
JSON_TYPES: tuple[type, ...] = (dict, list, str, int, float, bool, type(None))


class PipelineInvalid(InvalidInput):
    """A pipeline cannot be registered; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Waiting:
    """Returned by a step that hands over to something slower (a rollout): the run
    waits in ``status`` and the scheduler finishes the step when ``kind`` ends."""

    kind: str
    status: str
    details: dict[str, Any]


@dataclass
class StepContext:
    """What a step receives first: the client, the run's parameters and a log."""

    client: Any  # shipyard.Client (the SDK sits above this layer, so it is not imported)
    params: dict[str, Any]
    run_id: int
    pipeline: str
    step: str
    trigger: dict[str, Any]
    log: logging.Logger

    def start_run(self, experiment: str, **kwargs: Any) -> Any:
        """A tracking run tagged with this pipeline run (lineage from model back to trigger)."""
        tags = {
            **kwargs.pop("tags", {}),
            "shipyard.pipeline": self.pipeline,
            "shipyard.pipeline_run": str(self.run_id),
            "shipyard.pipeline_step": self.step,
        }
        return self.client.start_run(experiment, tags=tags, **kwargs)


StepFunction = Callable[..., Any]


@dataclass
class Step:
    name: str
    function: StepFunction
    inputs: dict[str, str]  # parameter -> upstream step
    after: tuple[str, ...] = ()  # ordering-only dependencies
    returns: Any = None  # annotation, None when unannotated
    input_types: dict[str, Any] = field(default_factory=dict)
    cache: bool = False
    approval: bool = False
    builtin: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def depends_on(self) -> set[str]:
        return set(self.inputs.values()) | set(self.after)

    def code_hash(self) -> str:
        """Changes when the step's compiled code (or a builtin's options) changes.

        Hashing the code object rather than the source file means the key is
        the code this run executes (the store's snapshot), not whatever the
        file on disk says now; a new Python version simply misses the cache.
        """
        code = getattr(self.function, "__code__", None)
        body = marshal.dumps(code) if code is not None else self.function.__qualname__.encode()
        options = repr(sorted(self.options.items())).encode()
        return hashlib.sha256(body + options).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "inputs": dict(self.inputs),
            "after": list(self.after),
            "returns": _type_name(self.returns),
            "cache": self.cache,
            "approval": self.approval,
            "builtin": self.builtin,
        }


def _type_name(annotation: Any) -> str:
    if annotation is None:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


class Pipeline:
    """Ordered steps, default parameters and the triggers that start a run."""

    def __init__(
        self,
        name: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        triggers: list[TriggerSpec | dict[str, Any]] | None = None,
        description: str = "",
    ) -> None:
        self.name = name
        self.params = dict(params or {})
        self.triggers = [parse_trigger(t) for t in triggers or []]
        self.description = description
        self.steps: dict[str, Step] = {}

    # -- declaring ------------------------------------------------------------------
    def step(
        self,
        function: StepFunction | None = None,
        *,
        name: str | None = None,
        after: list[str] | tuple[str, ...] = (),
        cache: bool = False,
        approval: bool = False,
    ) -> Any:
        """Decorator: ``@pipeline.step`` or ``@pipeline.step(cache=True, approval=True)``.

        ``cache=True`` reuses the outputs of an earlier run of this step when its
        code, inputs and the run's parameters are the same. ``approval=True``
        makes the run wait for ``shipyard pipelines approve`` before this step.
        """

        def add(fn: StepFunction) -> StepFunction:
            self.add_step(
                Step(
                    name or fn.__name__,
                    fn,
                    _inputs_of(fn),
                    tuple(after),
                    cache=cache,
                    approval=approval,
                )
            )
            return fn

        return add(function) if function is not None else add

    def add_step(self, step: Step) -> Step:
        check_name(step.name, "step")
        if step.name in self.steps:
            raise PipelineInvalid(f"two steps are named {step.name!r}")
        self.steps[step.name] = step
        return step

    # -- checking ------------------------------------------------------------------
    def order(self) -> list[str]:
        """Step names in execution order (dependencies first, then declaration order)."""
        if not self.steps:
            raise PipelineInvalid("the pipeline has no steps")
        for step in self.steps.values():
            for dependency in sorted(step.depends_on):
                if dependency not in self.steps:
                    raise PipelineInvalid(
                        f"step {step.name!r} depends on {dependency!r}, which is not a step "
                        f"of this pipeline (steps: {sorted(self.steps)})"
                    )
        sorter = graphlib.TopologicalSorter({s.name: s.depends_on for s in self.steps.values()})
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle = " -> ".join(exc.args[1])
            raise PipelineInvalid(f"the steps depend on each other in a cycle: {cycle}") from None
        declared = list(self.steps)
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=declared.index)
            order.extend(ready)
            sorter.done(*ready)
        return order

    def check(self) -> list[str]:
        """Everything registration verifies; returns the execution order."""
        order = self.order()
        for step in self.steps.values():
            for parameter, upstream in step.inputs.items():
                wanted = step.input_types.get(parameter)
                given = self.steps[upstream].returns
                if not _compatible(given, wanted):
                    raise PipelineInvalid(
                        f"step {step.name!r} takes {parameter!r} as {_type_name(wanted)}, "
                        f"but step {upstream!r} returns {_type_name(given)}"
                    )
        deploys = [s.name for s in self.steps.values() if s.builtin == "deploy"]
        if len(deploys) > 1:
            raise PipelineInvalid(f"a pipeline deploys once; it has deploy steps {deploys}")
        return order

    def definition(self) -> dict[str, Any]:
        """What the store keeps about this pipeline (the code is kept by hash)."""
        order = self.check()
        return {
            "steps": [self.steps[n].describe() for n in order],
            "params": self.params,
            "triggers": [t.to_dict() for t in self.triggers],
            "description": self.description,
        }


def _inputs_of(fn: StepFunction) -> dict[str, str]:
    parameters = list(inspect.signature(fn).parameters.values())
    if not parameters:
        raise PipelineInvalid(
            f"step {fn.__name__!r} must take the step context as its first parameter "
            f"(def {fn.__name__}(ctx, ...))"
        )
    return {p.name: p.name for p in parameters[1:]}


def resolve_types(step: Step) -> None:
    """Read the annotations (strings under ``from __future__ import annotations``)."""
    if step.builtin:
        return
    try:
        hints = typing.get_type_hints(step.function)
    except Exception as exc:
        raise PipelineInvalid(f"step {step.name!r}: cannot read its type hints: {exc}") from None
    step.returns = hints.get("return")
    step.input_types = {p: hints[p] for p in step.inputs if p in hints}
    for what, annotation in [("returns", step.returns), *step.input_types.items()]:
        if annotation is not None and not _supported(annotation):
            raise PipelineInvalid(
                f"step {step.name!r}: {what} is annotated {_type_name(annotation)}; steps pass "
                "DatasetRecord, Run, ModelVersion or JSON values (dict, list, str, numbers, bool)"
            )


def _supported(annotation: Any) -> bool:
    if annotation is Any or annotation is type(None):
        return True
    origin = typing.get_origin(annotation) or annotation
    if origin is typing.Union or str(origin) == "types.UnionType":
        return all(_supported(a) for a in typing.get_args(annotation))
    return isinstance(origin, type) and issubclass(origin, REFERENCE_TYPES + JSON_TYPES)


def _compatible(given: Any, wanted: Any) -> bool:
    if given is None or wanted is None or given is Any or wanted is Any:
        return True
    given_origin = typing.get_origin(given) or given
    wanted_origin = typing.get_origin(wanted) or wanted
    if isinstance(given_origin, type) and isinstance(wanted_origin, type):
        return issubclass(given_origin, wanted_origin)
    return True  # unions: checked when the value arrives


def check_value(step: Step, value: Any) -> None:
    """A step returned what it said it would (references or JSON only)."""
    annotation = step.returns
    if annotation is None or annotation is Any:
        return
    origin = typing.get_origin(annotation) or annotation
    if isinstance(origin, type) and not isinstance(value, origin):
        raise InvalidInput(
            f"step {step.name!r} is declared to return {_type_name(annotation)} "
            f"but returned {type(value).__name__}"
        )
