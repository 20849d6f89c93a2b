"""SQL for monitors, their results and alerts. Alert transitions write audit events
(``alert.fire``, ``alert.resolve``) in the same transaction, which the webhook
dispatcher forwards and triggers can follow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from shipyard.errors import Conflict, NotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.schema import Alert, Monitor, MonitorResult


@dataclass(frozen=True)
class MonitorRecord:
    name: str
    deployment: str
    spec: dict[str, Any]
    last_run_at: int
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AlertRecord:
    id: int
    monitor: str
    rule: str
    severity: str
    status: str
    value: float | None
    message: str
    started_at: int
    fired_at: int | None
    resolved_at: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _monitor(row: Monitor) -> MonitorRecord:
    return MonitorRecord(row.name, row.deployment, dict(row.spec), row.last_run_at, row.created_at)


def _alert(row: Alert) -> AlertRecord:
    return AlertRecord(
        row.id,
        row.monitor,
        row.rule,
        row.severity,
        row.status,
        row.value,
        row.message,
        row.started_at,
        row.fired_at,
        row.resolved_at,
    )


class MonitorStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, name: str, deployment: str, spec: dict[str, Any], *, actor: str
    ) -> MonitorRecord:
        with self.db.write() as session:
            if session.get(Monitor, name) is not None:
                raise Conflict(f"monitor {name!r} already exists")
            row = Monitor(
                name=name, deployment=deployment, spec=spec, last_run_at=0, created_at=now_ms()
            )
            session.add(row)
            record_event(
                session,
                actor=actor,
                action="monitor.create",
                object_type="monitor",
                object_id=name,
                details={"deployment": deployment, "spec": spec},
            )
            session.flush()
            return _monitor(row)

    def delete(self, name: str, *, actor: str) -> None:
        with self.db.write() as session:
            row = session.get(Monitor, name)
            if row is None:
                raise NotFound(f"monitor {name!r} does not exist")
            session.delete(row)
            # Its open alerts end with it: a monitor created later under the same name
            # starts clean and fires (and triggers) again.
            session.execute(
                update(Alert)
                .where(Alert.monitor == name, Alert.status.in_(("pending", "firing")))
                .values(status="resolved", resolved_at=now_ms())
            )
            record_event(
                session,
                actor=actor,
                action="monitor.delete",
                object_type="monitor",
                object_id=name,
                details={},
            )

    def get(self, name: str) -> MonitorRecord:
        with self.db.read() as session:
            row = session.get(Monitor, name)
            if row is None:
                raise NotFound(f"monitor {name!r} does not exist")
            return _monitor(row)

    def all(self) -> list[MonitorRecord]:
        with self.db.read() as session:
            return [_monitor(r) for r in session.scalars(select(Monitor).order_by(Monitor.name))]

    def record_run(
        self, name: str, at: int, values: dict[str, tuple[float | None, dict[str, Any]]]
    ) -> None:
        with self.db.write() as session:
            session.execute(update(Monitor).where(Monitor.name == name).values(last_run_at=at))
            for metric, (value, details) in values.items():
                session.add(
                    MonitorResult(monitor=name, at=at, metric=metric, value=value, details=details)
                )

    def results(
        self, name: str, metric: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        with self.db.read() as session:
            query = select(MonitorResult).where(MonitorResult.monitor == name)
            if metric is not None:
                query = query.where(MonitorResult.metric == metric)
            rows = session.scalars(
                query.order_by(MonitorResult.at.desc(), MonitorResult.id.desc()).limit(limit)
            )
            return [
                {"at": r.at, "metric": r.metric, "value": r.value, "details": r.details}
                for r in rows
            ]

    def open_alert(self, monitor: str, rule: str) -> AlertRecord | None:
        with self.db.read() as session:
            row = session.scalars(
                select(Alert).where(
                    Alert.monitor == monitor,
                    Alert.rule == rule,
                    Alert.status.in_(("pending", "firing")),
                )
            ).first()
            return _alert(row) if row else None

    def transition_alert(
        self,
        monitor: str,
        rule: str,
        *,
        breached: bool,
        value: float | None,
        severity: str,
        for_s: float,
        message: str,
        now: int,
        deployment: str,
    ) -> str | None:
        """Advance the rule's alert: pending -> firing after ``for_s``, resolved when clear.

        Returns the event that happened (``fire``/``resolve``), if any. At most one
        open alert exists per (monitor, rule): repeated breaches update it.
        """
        with self.db.write() as session:
            row = session.scalars(
                select(Alert).where(
                    Alert.monitor == monitor,
                    Alert.rule == rule,
                    Alert.status.in_(("pending", "firing")),
                )
            ).first()
            event = None
            if breached:
                if row is None:
                    row = Alert(
                        monitor=monitor,
                        rule=rule,
                        severity=severity,
                        status="pending",
                        value=value,
                        message=message,
                        started_at=now,
                    )
                    session.add(row)
                    session.flush()
                row.value = value
                row.message = message
                if row.status == "pending" and now - row.started_at >= for_s * 1000:
                    row.status = "firing"
                    row.fired_at = now
                    event = "fire"
            elif row is not None:
                if row.status == "firing":
                    event = "resolve"
                row.status = "resolved"
                row.resolved_at = now
            if event is not None and row is not None:
                record_event(
                    session,
                    actor="monitor",
                    action=f"alert.{event}",
                    object_type="deployment",
                    object_id=deployment,
                    details={
                        "alert": row.id,
                        "monitor": monitor,
                        "rule": rule,
                        "severity": row.severity,
                        "value": value,
                        "message": message,
                    },
                )
            return event

    def recent_alerts(
        self, monitors: list[str] | None = None, *, limit: int = 100
    ) -> list[AlertRecord]:
        """The newest ``limit`` alerts (open and resolved), of these monitors if given."""
        query = select(Alert)
        if monitors is not None:
            query = query.where(Alert.monitor.in_(monitors))
        with self.db.read() as session:
            rows = session.scalars(query.order_by(Alert.id.desc()).limit(limit))
            return [_alert(r) for r in rows]

    def alerts(self, monitor: str | None = None, *, open_only: bool = False) -> list[AlertRecord]:
        with self.db.read() as session:
            query = select(Alert)
            if monitor is not None:
                query = query.where(Alert.monitor == monitor)
            if open_only:
                query = query.where(Alert.status.in_(("pending", "firing")))
            return [_alert(r) for r in session.scalars(query.order_by(Alert.id))]
