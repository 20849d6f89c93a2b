"""Batch jobs across processes: a SIGKILLed job resumes exactly; Dask gives the same output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from batch_data import Scored, read_output

from shipyard.store.batch_store import SUCCEEDED

pytestmark = pytest.mark.slow


def _cli(scored: Scored, *args: str) -> list[str]:
    return [
        str(Path(sys.executable).parent / "shipyard"),
        "--home",
        str(scored.client.settings.home),
        *args,
    ]


def test_a_job_killed_half_way_resumes_to_exactly_one_row_per_input_row(
    scored: Scored, tmp_path
) -> None:
    args = [
        "batch", "predict", "models:/cancer/1",
        "--input", str(scored.folder / "all.parquet"),
        "--output", str(tmp_path / "out"),
        "--job", "killed", "--chunk-rows", "20", "--id-column", "id",
    ]  # fmt: skip
    process = subprocess.Popen(_cli(scored, *args), stdout=subprocess.DEVNULL)
    store = scored.client.store
    deadline = time.monotonic() + 60
    done: set[int] = set()
    while time.monotonic() < deadline and process.poll() is None:
        if store.batch.find("killed") is not None:
            done = store.batch.done_partitions("killed")
            if len(done) >= 40:
                break
        time.sleep(0.005)
    assert process.poll() is None, "the job finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    at_kill = store.batch.get("killed")
    assert at_kill.status == "running" and 40 <= len(store.batch.done_partitions("killed")) < 100

    rerun = subprocess.run(_cli(scored, *args), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    job = store.batch.get("killed")
    assert job.status == SUCCEEDED and job.attempts == 2
    assert job.rows_done == job.rows_total == 2_000
    out = read_output(tmp_path / "out")
    assert len(out) == 2_000 and out["id"].is_unique
    assert out["id"].tolist() == [f"r{i:05d}" for i in range(2_000)]
    labels, _ = scored.expected()
    assert (out["prediction"].to_numpy() == labels).all()


def test_a_dask_cluster_gives_the_same_output_as_local_workers(scored: Scored, tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    local = scored.client.batch_predict(
        "models:/cancer/1", scored.folder / "all.parquet", tmp_path / "local", chunk_rows=150
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = scored.client.batch_predict(
            "models:/cancer/1",
            scored.folder / "all.parquet",
            tmp_path / "dask",
            chunk_rows=150,
            scheduler=cluster.scheduler_address,
        )
        with distributed.Client(cluster) as dask:
            loaded = dask.run(_models_loaded)
    assert local.rows_done == remote.rows_done == 2_000
    pd.testing.assert_frame_equal(
        read_output(tmp_path / "local").drop(columns="job"),
        read_output(tmp_path / "dask").drop(columns="job"),
    )
    # Both workers scored partitions, each loading the model once.
    assert sorted(loaded.values()) == [1, 1]


def _models_loaded() -> int:
    from shipyard.batch import package

    return len(package._loaded)
