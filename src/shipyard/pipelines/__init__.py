"""Continuous training: pipelines of typed steps, gates, triggers and the scheduler.

What a pipeline file imports::

    from shipyard.pipelines import Pipeline, StepContext, deploy, gate, on_alert, register_model
"""

from shipyard.entities import ModelVersion, Run
from shipyard.pipelines.builtin import deploy, gate, optimize, register_model
from shipyard.pipelines.definition import Pipeline, PipelineInvalid, StepContext
from shipyard.pipelines.gate import GateFailed, GateResult
from shipyard.pipelines.triggers import TriggerSpec, on_alert, on_dataset, on_schedule
from shipyard.store.dataset_store import DatasetRecord

__all__ = [
    "DatasetRecord",
    "GateFailed",
    "GateResult",
    "ModelVersion",
    "Pipeline",
    "PipelineInvalid",
    "Run",
    "StepContext",
    "TriggerSpec",
    "deploy",
    "gate",
    "on_alert",
    "on_dataset",
    "on_schedule",
    "optimize",
    "register_model",
]
