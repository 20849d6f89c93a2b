"""The scheduler turns signals into runs; executors run them.

``PipelineScheduler`` runs in the one process holding its lease (inside
``shipyard serve`` or ``shipyard worker``). Each tick it:

- reads the audit events each alert / dataset trigger has not seen yet and
  fires the trigger for the ones that match;
- fires schedule triggers whose cron time has come (one run per slot);
- finishes runs waiting on a rollout once the rollout has decided;
- fails runs whose executor stopped sending heartbeats.

Every cursor lives in the store, so a restarted or replacement scheduler
continues where the last one stopped, and firing is guarded in the store
(conditional UPDATE plus a unique key per trigger and slot), so two
schedulers that both believe they lead still start each run once.

``PipelineExecutor`` runs in every such process: a thread that claims queued
runs and executes them, away from the event loop.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from shipyard.pipelines.runner import PipelineRunner
from shipyard.pipelines.service import step_names
from shipyard.pipelines.triggers import parse_trigger
from shipyard.store import Store
from shipyard.store.audit import now_ms
from shipyard.store.leased_loop import LeasedLoop
from shipyard.store.pipeline_records import PipelineRunRecord, TriggerRecord

logger = logging.getLogger(__name__)

LEASE = "pipeline-scheduler"
EVENT_ACTIONS = {"alert": "alert.fire", "dataset": "dataset.add"}


class PipelineScheduler(LeasedLoop):
    lease = LEASE

    def __init__(
        self,
        store: Store,
        holder: str,
        *,
        tick_s: float = 1.0,
        lease_ttl_s: float | None = None,
        stale_after_s: float = 60.0,
    ) -> None:
        super().__init__(
            store, holder, tick_s=tick_s, lease_ttl_s=lease_ttl_s or max(10.0, 5 * tick_s)
        )
        self.stale_after_s = stale_after_s
        self.started: list[PipelineRunRecord] = []  # runs this scheduler started (inspection)

    def work(self) -> None:
        self.store.pipelines.reap(now_ms() - int(self.stale_after_s * 1000))
        for trigger in self.store.pipelines.triggers():
            try:
                self.check_trigger(trigger)
            except Exception as exc:  # one broken trigger must not stop the others
                logger.warning("trigger %s of %s failed: %s", trigger.key, trigger.pipeline, exc)
        self.finish_rollouts()

    # -- triggers ---------------------------------------------------------------
    def check_trigger(self, trigger: TriggerRecord) -> None:
        spec = parse_trigger(trigger.spec)
        if spec.source == "schedule":
            slot = spec.due(trigger.cursor, now_ms())
            if slot is not None:
                self._fire(
                    trigger, spec.cooldown_s, slot, f"schedule:{slot}", {"scheduled_at": slot}
                )
            return
        events = self.store.events.after(trigger.cursor)
        wanted = EVENT_ACTIONS[spec.source]
        for event in events:
            if event["action"] != wanted or not spec.matches(event):
                continue
            details = {"event": event["id"], "actor": event["actor"], **event["details"]}
            if spec.source == "dataset":
                details["dataset"] = event["object_id"]
            self._fire(trigger, spec.cooldown_s, event["id"], f"event:{event['id']}", details)
        if events:
            self.store.pipelines.move_cursor(trigger.id, events[-1]["id"])

    def _fire(
        self,
        trigger: TriggerRecord,
        cooldown_s: float,
        cursor: int,
        key: str,
        details: dict[str, Any],
    ) -> None:
        pipeline = self.store.pipelines.get(trigger.pipeline)
        run = self.store.pipelines.fire(
            trigger,
            pipeline,
            step_names(pipeline),
            cooldown_s=cooldown_s,
            cursor=cursor,
            key=key,
            details=details,
            params=dict(pipeline.definition.get("params", {})),
        )
        if run is not None:
            self.started.append(run)
            logger.info("trigger %s started run %s of %s", trigger.key, run.id, trigger.pipeline)

    # -- runs waiting on a rollout ------------------------------------------------
    def finish_rollouts(self) -> None:
        pipelines = self.store.pipelines
        for run in pipelines.runs(status=("deploying",), limit=1000):
            rollout_id = run.waiting.get("rollout")
            step = run.waiting.get("step", "deploy")
            if rollout_id is None:
                continue
            rollout = self.store.rollouts.get(int(rollout_id))
            if rollout.status in ("running", "paused"):
                continue
            summary = {
                "rollout": rollout.id,
                "status": rollout.status,
                "deployment": rollout.deployment,
                "baseline_version": rollout.baseline_version,
                "candidate_version": rollout.candidate_version,
                "reason": rollout.reason,
            }
            outcome = (
                f"rollout {rollout.id} {rollout.status.replace('_', ' ')}: "
                f"v{rollout.baseline_version} -> v{rollout.candidate_version} on "
                f"{rollout.deployment} ({rollout.reason})"
            )
            if rollout.status == "promoted":
                pipelines.end_step(run.id, step, "succeeded", outputs={"value": summary})
                # the remaining steps (if any) run next; the outcome stays with the run
                pipelines.set_status(
                    run.id, "queued", actor="scheduler", outcome=outcome, expect=("deploying",)
                )
            else:
                pipelines.end_step(
                    run.id, step, "failed", outputs={"value": summary}, error=outcome
                )
                pipelines.set_status(
                    run.id,
                    "rolled_back",
                    actor="scheduler",
                    error=outcome,
                    outcome=outcome,
                    expect=("deploying",),
                )


class PipelineExecutor:
    """A thread that executes queued runs one at a time, in any number of processes."""

    def __init__(self, client: Any, worker: str, *, poll_s: float = 1.0) -> None:
        self._stop = threading.Event()
        self.runner = PipelineRunner(client, worker, should_stop=self._stop.is_set)
        self.poll_s = poll_s
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="shipyard-pipelines", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.runner.run_next()
            except Exception as exc:  # a store hiccup must not kill the executor
                logger.warning("pipeline executor: %s", exc)
                ran = None
            if ran is None:
                self._stop.wait(self.poll_s)

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop after the current step; the rest of its run goes back to the queue."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
