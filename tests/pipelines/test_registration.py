"""Every mistake in a pipeline file is refused at registration, naming where it is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.errors import InvalidInput
from shipyard.pipelines import PipelineInvalid
from tests.pipelines.helpers import MONITOR, serve_champion, write_pipeline

HEADER = "from shipyard.pipelines import Pipeline, StepContext, on_schedule, on_alert\n"


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Client]:
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="tester")) as client:
        serve_champion(client)
        yield client


def _file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "bad.py"
    path.write_text(HEADER + body)
    return str(path)


def test_a_valid_pipeline_registers_with_its_steps_triggers_and_code(
    local: Client, tmp_path: Path
) -> None:
    path = write_pipeline(tmp_path, triggers=f'on_alert("{MONITOR}"), on_schedule("0 3 * * *")')
    record = local.register_pipeline("retrain", str(path))
    assert [s["name"] for s in record.definition["steps"]] == [
        "ingest",
        "holdout",
        "train",
        "register",
        "gate",
        "deploy",
    ]
    assert record.definition["steps"][2]["inputs"] == {"ingest": "ingest"}
    assert record.definition["steps"][2]["returns"] == "Run"
    assert local.store.artifacts.get_bytes(record.code_sha256) == path.read_bytes()
    keys = [t.key for t in local.pipeline_triggers("retrain")]
    assert keys == [f"alert:{MONITOR}", "schedule:0 3 * * *"]
    again = local.register_pipeline("retrain", str(path))
    assert again.version == 2 and [t.key for t in local.pipeline_triggers("retrain")] == keys


def test_a_syntax_error_names_the_file_and_line(local: Client, tmp_path: Path) -> None:
    path = _file(tmp_path, "pipeline = Pipeline(\n\ndef broken(:\n    pass\n")
    with pytest.raises(PipelineInvalid, match=r"bad\.py:\d+: syntax error"):
        local.register_pipeline("p", path)


def test_an_error_while_loading_names_the_line(local: Client, tmp_path: Path) -> None:
    path = _file(tmp_path, "pipeline = Pipeline()\nx = 1 / 0\n")
    with pytest.raises(PipelineInvalid, match=r"bad\.py:3: ZeroDivisionError"):
        local.register_pipeline("p", path)


def test_a_missing_step_is_named(local: Client, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "pipeline = Pipeline()\n"
        "@pipeline.step\ndef train(ctx: StepContext, ingest_data: dict) -> dict:\n    return {}\n",
    )
    with pytest.raises(
        PipelineInvalid, match="step 'train' depends on 'ingest_data', which is not"
    ):
        local.register_pipeline("p", path)


def test_a_cycle_is_shown(local: Client, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "pipeline = Pipeline()\n"
        "@pipeline.step(after=['c'])\ndef a(ctx):\n    return 1\n"
        "@pipeline.step\ndef b(ctx, a):\n    return 1\n"
        "@pipeline.step\ndef c(ctx, b):\n    return 1\n",
    )
    with pytest.raises(PipelineInvalid, match=r"cycle: (a|b|c) -> .* -> (a|b|c)"):
        local.register_pipeline("p", path)


def test_mismatched_step_types_are_refused(local: Client, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "from shipyard.pipelines import Run, DatasetRecord\n"
        "pipeline = Pipeline()\n"
        "@pipeline.step\ndef ingest(ctx) -> DatasetRecord:\n    ...\n"
        "@pipeline.step\ndef train(ctx, ingest: Run) -> dict:\n    ...\n",
    )
    with pytest.raises(PipelineInvalid, match="takes 'ingest' as Run, but step 'ingest' returns"):
        local.register_pipeline("p", path)


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ('{"source": "slack", "channel": "x"}', "unknown trigger source 'slack'"),
        ('on_schedule("every day at 3")', "cron expression 'every day at 3' does not parse"),
        ('on_schedule("61 * * * *")', "cron expression '61 \\* \\* \\* \\*' does not parse"),
        ('on_alert("no-such-monitor")', "no monitor is named so"),
        ('on_alert("x", cooldown="soon")', "cannot read duration 'soon'"),
        ('{"source": "dataset"}', "a dataset trigger names its 'dataset'"),
    ],
)
def test_bad_triggers_are_refused(
    local: Client, tmp_path: Path, trigger: str, message: str
) -> None:
    path = _file(
        tmp_path,
        f"pipeline = Pipeline(triggers=[{trigger}])\n"
        "@pipeline.step\ndef a(ctx) -> dict:\n    return {}\n",
    )
    with pytest.raises(PipelineInvalid, match=message):
        local.register_pipeline("p", path)
    assert local.list_pipelines() == []


def test_bad_builtin_options_and_missing_things_are_refused(local: Client, tmp_path: Path) -> None:
    cases = {
        "x = 1\n": "must define exactly one shipyard Pipeline",
        "pipeline = Pipeline()\n": "the pipeline has no steps",
        "from shipyard.pipelines import gate\npipeline = Pipeline()\n"
        "pipeline.add_step(gate(candidate='a', dataset='b', checks=['auc >> 3']))\n": (
            "cannot read gate check 'auc >> 3'"
        ),
        "from shipyard.pipelines import deploy\npipeline = Pipeline()\n"
        "pipeline.add_step(deploy(deployment='d', candidate='a', rollout={'steps': [50]}))\n": (
            "steps must increase and end at 100"
        ),
    }
    for body, message in cases.items():
        with pytest.raises(PipelineInvalid, match=message.replace("(", r"\(")):
            local.register_pipeline("p", _file(tmp_path, body))
    with pytest.raises(PipelineInvalid, match="does not exist"):
        local.register_pipeline("p", str(tmp_path / "nowhere.py"))


def test_unknown_or_mistyped_run_parameters_are_refused(local: Client, tmp_path: Path) -> None:
    local.register_pipeline("retrain", str(write_pipeline(tmp_path)))
    with pytest.raises(InvalidInput, match="unknown pipeline parameter 'sed'"):
        local.run_pipeline("retrain", {"sed": "1"})
    with pytest.raises(InvalidInput, match="parameter 'seed' is a int"):
        local.run_pipeline("retrain", {"seed": "one"})
    assert local.pipeline_runs("retrain") == []
