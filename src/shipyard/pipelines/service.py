"""Registering pipelines and starting, approving and retrying their runs."""

from __future__ import annotations

import json
import logging
from typing import Any

from shipyard.errors import InvalidInput, NotFound
from shipyard.names import check_name
from shipyard.pipelines.definition import PipelineInvalid
from shipyard.pipelines.loader import load, read_code
from shipyard.store import Store
from shipyard.store.audit import now_ms
from shipyard.store.pipeline_records import NewTrigger, PipelineRecord, PipelineRunRecord

logger = logging.getLogger(__name__)


def register_pipeline(store: Store, name: str, source: str, *, actor: str) -> PipelineRecord:
    """Load, check and store ``source`` (a .py file or module) as pipeline ``name``.

    Everything that could go wrong at 3 a.m. is checked now: the code runs
    and defines one pipeline, every step dependency exists and there is no
    cycle, input and output types agree, triggers name a known source, cron
    expressions parse, and alert triggers name an existing monitor.
    """
    check_name(name, "pipeline")
    code = read_code(source)
    pipeline = load(code)
    definition = pipeline.definition()
    where = code.source.removeprefix("module:")
    for trigger in pipeline.triggers:
        if trigger.source == "alert":
            try:
                store.monitors.get(trigger.monitor)
            except NotFound:
                raise PipelineInvalid(
                    f"{where}: trigger on alerts of monitor {trigger.monitor!r}: no monitor is "
                    "named so (create it first: shipyard monitor create)"
                ) from None
    store.artifacts.put_bytes(code.code, sha256=code.sha256)
    last_event, now = store.events.last_id(), now_ms()
    triggers = [
        NewTrigger(t.key, t.source, t.to_dict(), now if t.source == "schedule" else last_event)
        for t in pipeline.triggers
    ]
    record = store.pipelines.register(
        name,
        source=code.source,
        code_sha256=code.sha256,
        definition=definition,
        triggers=triggers,
        actor=actor,
    )
    logger.info("registered pipeline %s v%s (%s)", name, record.version, code.sha256[:12])
    return record


def step_names(record: PipelineRecord) -> list[str]:
    return [s["name"] for s in record.definition["steps"]]


def merge_params(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults with overrides; text from the command line takes the default's type."""
    merged = dict(defaults)
    for key, value in overrides.items():
        if key not in defaults:
            raise InvalidInput(
                f"unknown pipeline parameter {key!r}; its parameters are {sorted(defaults)}"
            )
        merged[key] = _coerce(key, value, defaults[key])
    return merged


def _coerce(key: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return json.loads(value)
    except ValueError:
        raise InvalidInput(
            f"parameter {key!r} is a {type(default).__name__} (default {default!r}); "
            f"cannot read {value!r} as one"
        ) from None


def start_run(
    store: Store,
    name: str,
    *,
    params: dict[str, Any] | None = None,
    actor: str,
) -> PipelineRunRecord:
    """Queue a run started by a person; an executor (or the caller) executes it."""
    record = store.pipelines.get(name)
    merged = merge_params(record.definition.get("params", {}), params or {})
    return store.pipelines.create_run(
        record,
        step_names(record),
        params=merged,
        trigger={"source": "manual", "by": actor},
        actor=actor,
    )
