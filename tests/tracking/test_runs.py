"""Runs: params, metrics (many points per key), tags, artifacts, inputs, status."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from shipyard import Client, Conflict, InvalidInput, RunNotFound
from shipyard.config import StoreSettings


def test_run_records_everything_it_was_given(client: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text("<p>ok</p>")
    with client.start_run("fraud", params={"C": 1.0}, tags={"team": "risk"}, name="r1") as run:
        run.log_params({"penalty": "l2", "max_iter": 100})
        run.log_metrics({"auc": 0.90, "loss": 0.5}, step=1)
        run.log_metrics({"auc": 0.93, "loss": 0.4}, step=2)
        run.log_metric("auc", 0.91, step=3)
        run.set_tag("stage", "dev")
        artifact = run.log_artifact(report)
        run.log_input("transactions", 2, "ab" * 32)
    stored = client.get_run(run.id)
    assert stored.status == "FINISHED" and stored.end_time is not None
    assert stored.end_time >= stored.start_time
    assert stored.name == "r1" and stored.experiment == "fraud" and stored.user == "tester"
    assert stored.params == {"C": "1.0", "max_iter": "100", "penalty": "l2"}
    assert stored.metrics == {"auc": 0.91, "loss": 0.4}  # latest step wins
    assert stored.tags == {"stage": "dev", "team": "risk"}
    assert [a.path for a in stored.artifacts] == ["report.html"]
    assert client.store.artifacts.get_bytes(artifact.sha256) == b"<p>ok</p>"
    assert stored.inputs[0].dataset == "transactions" and stored.inputs[0].version == "2"
    history = client.get_metric_history(run.id, "auc")
    assert [(p.step, p.value) for p in history] == [(1, 0.90), (2, 0.93), (3, 0.91)]


def test_many_points_per_key_are_all_kept(client: Client) -> None:
    with client.start_run("curves") as run:
        for step in range(3000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    history = client.get_metric_history(run.id, "loss")
    assert len(history) == 3000
    assert history[-1].step == 2999 and history[-1].value == pytest.approx(1 / 3000)


def test_buffer_flushes_past_the_threshold_before_the_run_ends(client: Client) -> None:
    run = client.start_run("buffered")
    run._flush_every = 100  # small threshold for the test
    for step in range(150):
        run.log_metric("x", float(step), step=step)
    assert len(client.get_metric_history(run.id, "x")) >= 100
    run.end()
    assert len(client.get_metric_history(run.id, "x")) == 150


def test_a_run_that_raises_is_failed_with_the_error(client: Client) -> None:
    with pytest.raises(ZeroDivisionError), client.start_run("fails") as run:
        run.log_metric("before", 1.0)
        1 / 0  # noqa: B018
    stored = client.get_run(run.id)
    assert stored.status == "FAILED"
    assert stored.error is not None and stored.error.startswith("ZeroDivisionError")
    assert stored.metrics == {"before": 1.0}  # what was logged before the error is kept


def test_keyboard_interrupt_marks_the_run_killed(client: Client) -> None:
    with pytest.raises(KeyboardInterrupt), client.start_run("killed") as run:
        raise KeyboardInterrupt
    assert client.get_run(run.id).status == "KILLED"


def test_params_are_immutable(client: Client) -> None:
    with client.start_run("immutable", params={"C": 1}) as run:
        run.log_param("C", 1)  # same value: fine
        with pytest.raises(Conflict, match="'C'"):
            run.log_param("C", 2)
        run.log_param("gamma", 0.1)
        run.flush()
        with pytest.raises(Conflict, match="gamma"):
            run.log_param("gamma", 0.2)


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"auc": "high"}, "must be a number"),
        ({"auc": float("inf")}, "infinite"),
        ({"": 1.0}, "non-empty"),
        ({" auc": 1.0}, "spaces"),
        ({"ok": True}, "must be a number"),
    ],
)
def test_bad_metrics_are_refused_at_the_call(sqlite_client: Client, metrics, message) -> None:
    with sqlite_client.start_run("bad") as run, pytest.raises(InvalidInput, match=message):
        run.log_metrics(metrics)


def test_numpy_numbers_are_accepted(sqlite_client: Client) -> None:
    with sqlite_client.start_run("np") as run:
        run.log_metrics({"a": np.float32(0.5), "b": np.int64(3)})
    assert sqlite_client.get_run(run.id).metrics == {"a": 0.5, "b": 3.0}


def test_logging_after_end_is_refused(sqlite_client: Client) -> None:
    run = sqlite_client.start_run("ended")
    run.end()
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_metric("x", 1.0)


def test_unknown_run_and_bad_experiment_name(sqlite_client: Client) -> None:
    with pytest.raises(RunNotFound, match="nope"):
        sqlite_client.get_run("nope")
    with pytest.raises(InvalidInput, match="experiment name"):
        sqlite_client.start_run("../etc")


def test_git_commit_and_source_of_the_calling_script(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    script = repo / "train.py"
    script.write_text(
        textwrap.dedent("""
        import shipyard
        with shipyard.start_run("git") as run:
            run.log_metric("x", 1.0)
        print(run.id)
    """)
    )
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "init",
        ],
        check=True,
    )
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    home = tmp_path / "ws"
    out = subprocess.run(
        [sys.executable, str(script)],
        check=True,
        capture_output=True,
        text=True,
        env={"SHIPYARD_HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    run = Client(settings=StoreSettings(home=home)).get_run(out.stdout.strip())
    assert run.git_commit == commit
    assert run.source == str(script)


def test_an_unclosed_run_is_flushed_and_finished_at_exit(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    code = textwrap.dedent("""
        import shipyard
        run = shipyard.start_run("atexit")
        run.log_metric("x", 42.0)
        print(run.id)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env={"SHIPYARD_HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    run = Client(settings=StoreSettings(home=home)).get_run(out.stdout.strip())
    assert run.status == "FINISHED" and run.metrics == {"x": 42.0}


def test_log_batch_writes_many_points_at_once(client: Client) -> None:
    with client.start_run("batch") as run:
        run.log_batch(
            [("loss", 1.0 / (i + 1), i) for i in range(5000)],
            params={"lr": 0.1},
            tags={"kind": "batch"},
        )
        assert len(client.get_metric_history(run.id, "loss")) == 5000  # written already
    stored = client.get_run(run.id)
    assert stored.metrics["loss"] == pytest.approx(1 / 5000)
    assert stored.params == {"lr": "0.1"} and stored.tags == {"kind": "batch"}
    with pytest.raises(InvalidInput, match="must be a number"):
        client.log_batch(run.id, metrics=[("loss", "x", 1)])
