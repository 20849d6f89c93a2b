"""The ``shipyard.Client`` methods for pipelines (kept apart so client.py stays small)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput
from shipyard.sdk.operations import local_only, operation
from shipyard.security.permissions import Permission as P
from shipyard.store.pipeline_records import PipelineRecord, PipelineRunRecord, TriggerRecord

if TYPE_CHECKING:
    from shipyard.store import Store


# The pipelines package imports croniter and the gate's metrics: loaded on first use.
def _service() -> Any:
    from shipyard.pipelines import service

    return service


def _runner() -> Any:
    from shipyard.pipelines import runner

    return runner


def _worker_name() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


class PipelineMethods:
    store: Store

    @property
    def actor(self) -> str:
        raise NotImplementedError  # the Client says who is acting

    @local_only("a pipeline is code the server will run: an admin registers it where the store is")
    def register_pipeline(self, name: str, source: str) -> PipelineRecord:
        """Register (or update) ``name`` from a .py file or an importable module."""
        return _service().register_pipeline(self.store, name, str(source), actor=self.actor)

    @operation(P.READ)
    def get_pipeline(self, name: str) -> PipelineRecord:
        return self.store.pipelines.get(name)

    @operation(P.READ)
    def list_pipelines(self) -> list[PipelineRecord]:
        return self.store.pipelines.all()

    @operation(P.RUN_PIPELINES)
    def delete_pipeline(self, name: str) -> None:
        self.store.pipelines.delete(name, actor=self.actor)

    @operation(P.READ)
    def pipeline_triggers(self, name: str | None = None) -> list[TriggerRecord]:
        return self.store.pipelines.triggers(name)

    @operation(P.RUN_PIPELINES)
    def run_pipeline(
        self, name: str, params: dict[str, Any] | None = None, *, wait: bool = True
    ) -> PipelineRunRecord:
        """Start a run; with ``wait`` it executes here until it ends or waits (for an
        approval or a rollout), else a ``shipyard serve``/``worker`` process picks it up."""
        run = _service().start_run(self.store, name, params=params, actor=self.actor)
        return self._execute(run.id) if wait else run

    @operation(P.READ)
    def pipeline_runs(
        self,
        name: str | None = None,
        *,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[PipelineRunRecord]:
        """Runs newest first; ``offset`` skips that many (a page of ``limit``)."""
        if offset < 0:
            raise InvalidInput(f"offset must not be negative, got {offset}")
        return self.store.pipelines.runs(
            name, status=(status,) if status else None, limit=limit, offset=offset
        )

    @operation(P.READ)
    def get_pipeline_run(self, run_id: int) -> PipelineRunRecord:
        return self.store.pipelines.get_run(int(run_id))

    @operation(P.RUN_PIPELINES)
    def approve_pipeline_run(
        self, run_id: int, *, comment: str = "", wait: bool = False
    ) -> PipelineRunRecord:
        """Let a run waiting for approval go on (the approver is recorded)."""
        self.store.pipelines.decide(int(run_id), approve=True, actor=self.actor, comment=comment)
        return self._execute(int(run_id)) if wait else self.get_pipeline_run(run_id)

    @operation(P.RUN_PIPELINES)
    def reject_pipeline_run(self, run_id: int, *, comment: str = "") -> PipelineRunRecord:
        self.store.pipelines.decide(int(run_id), approve=False, actor=self.actor, comment=comment)
        return self.get_pipeline_run(run_id)

    @operation(P.RUN_PIPELINES)
    def retry_pipeline_run(self, run_id: int, *, wait: bool = True) -> PipelineRunRecord:
        """Run a failed run again from its failed step; earlier steps keep their outputs."""
        self.store.pipelines.retry(int(run_id), actor=self.actor)
        return self._execute(int(run_id)) if wait else self.get_pipeline_run(run_id)

    def _execute(self, run_id: int) -> PipelineRunRecord:
        runner = _runner().PipelineRunner(self, _worker_name())
        runner.run_next(run_id)
        return self.get_pipeline_run(run_id)
