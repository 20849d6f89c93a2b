"""What starts a pipeline run: a monitor alert, a schedule, a new dataset version.

(A person starting one with ``shipyard pipelines run`` needs no declaration.)
Each trigger has a cool-down: after it starts a run, further signals within
``cooldown_s`` are counted and dropped, and a signal that arrives while a run
it started is still going is dropped too, so a flapping alert starts one
retraining, not ten. Everything is checked when the pipeline is registered.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from croniter import croniter

from shipyard.deploy.rollouts import parse_duration
from shipyard.errors import InvalidInput

SOURCES = ("alert", "schedule", "dataset")
DEFAULT_COOLDOWN_S = {"alert": 600.0, "schedule": 0.0, "dataset": 0.0}
_MAX_CATCH_UP = 10_000  # schedule slots skipped over after a long stop


def _duration(value: Any, where: str) -> float:
    """A cool-down: seconds, or text for ``parse_duration`` (``10m``); never negative."""
    try:
        seconds = float(value) if isinstance(value, int | float) else parse_duration(str(value))
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    if seconds < 0:
        raise InvalidInput(f"{where}: a duration cannot be negative, got {value!r}")
    return seconds


@dataclass(frozen=True)
class TriggerSpec:
    source: str
    cooldown_s: float
    monitor: str = ""  # alert: which monitor's alerts
    rules: tuple[str, ...] = ()  # alert: only these rules (all when empty)
    cron: str = ""  # schedule
    dataset: str = ""  # dataset: new versions of this dataset

    @property
    def key(self) -> str:
        """Stable identity across re-registration (the store keeps each key's cursor)."""
        target = {"alert": self.monitor, "schedule": self.cron, "dataset": self.dataset}
        rules = f"[{','.join(self.rules)}]" if self.rules else ""
        return f"{self.source}:{target[self.source]}{rules}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "cooldown_s": self.cooldown_s}
        if self.source == "alert":
            data.update(monitor=self.monitor, rules=list(self.rules))
        elif self.source == "schedule":
            data["cron"] = self.cron
        else:
            data["dataset"] = self.dataset
        return data

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether an audit event is a signal for this trigger."""
        details = event.get("details") or {}
        if self.source == "alert":
            return (
                event["action"] == "alert.fire"
                and details.get("monitor") == self.monitor
                and (not self.rules or details.get("rule") in self.rules)
            )
        if self.source == "dataset":
            name = str(event.get("object_id", "")).rsplit("/", 1)[0]
            return event["action"] == "dataset.add" and name == self.dataset
        return False

    def due(self, cursor_ms: int, now_ms: int) -> int | None:
        """Schedule: the latest slot after ``cursor_ms`` and not after now (missed slots
        while nothing ran collapse into one run), or None when nothing is due."""
        start = dt.datetime.fromtimestamp(cursor_ms / 1000, tz=dt.UTC)
        slots = croniter(self.cron, start)
        latest = None
        for _ in range(_MAX_CATCH_UP):
            slot = int(slots.get_next(float) * 1000)
            if slot > now_ms:
                break
            latest = slot
        return latest


def on_alert(monitor: str, *, rules: list[str] | None = None, cooldown: Any = "10m") -> TriggerSpec:
    """Start a run when ``monitor`` fires an alert (of one of ``rules``, if given)."""
    return parse_trigger(
        {"source": "alert", "monitor": monitor, "rules": rules or [], "cooldown": cooldown}
    )


def on_schedule(cron: str, *, cooldown: Any = 0) -> TriggerSpec:
    """Start a run at each time of a cron expression (UTC; a sixth field is seconds)."""
    return parse_trigger({"source": "schedule", "cron": cron, "cooldown": cooldown})


def on_dataset(name: str, *, cooldown: Any = 0) -> TriggerSpec:
    """Start a run for every new version of the dataset ``name``."""
    return parse_trigger({"source": "dataset", "dataset": name, "cooldown": cooldown})


def parse_trigger(data: TriggerSpec | dict[str, Any]) -> TriggerSpec:
    if isinstance(data, TriggerSpec):
        return data
    if not isinstance(data, dict):
        raise InvalidInput(f"a trigger is a mapping with a 'source', got {data!r}")
    source = data.get("source")
    where = f"trigger {json.dumps(data, default=str)}"
    if source not in SOURCES:
        raise InvalidInput(
            f"{where}: unknown trigger source {source!r}; use one of {list(SOURCES)} "
            "(people start runs with `shipyard pipelines run`)"
        )
    allowed = {
        "alert": {"monitor", "rules"},
        "schedule": {"cron"},
        "dataset": {"dataset"},
    }[source] | {"source", "cooldown", "cooldown_s"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {unknown} for a {source} trigger")
    cooldown = _duration(
        data.get("cooldown", data.get("cooldown_s", DEFAULT_COOLDOWN_S[source])), where
    )
    if source == "alert":
        monitor = data.get("monitor")
        if not monitor or not isinstance(monitor, str):
            raise InvalidInput(f"{where}: an alert trigger names its 'monitor'")
        rules = data.get("rules") or []
        if not isinstance(rules, list | tuple) or not all(isinstance(r, str) for r in rules):
            raise InvalidInput(f"{where}: 'rules' is a list of rule names")
        return TriggerSpec("alert", cooldown, monitor=monitor, rules=tuple(rules))
    if source == "schedule":
        cron = data.get("cron")
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise InvalidInput(
                f"{where}: cron expression {cron!r} does not parse; write five fields "
                "(minute hour day month weekday, e.g. '0 3 * * *'), or six with seconds last"
            )
        return TriggerSpec("schedule", cooldown, cron=cron)
    dataset = data.get("dataset")
    if not dataset or not isinstance(dataset, str):
        raise InvalidInput(f"{where}: a dataset trigger names its 'dataset'")
    return TriggerSpec("dataset", cooldown, dataset=dataset)
