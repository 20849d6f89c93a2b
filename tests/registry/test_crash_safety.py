"""A registering process killed with SIGKILL never leaves a version that cannot load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shipyard.config import StoreSettings
from shipyard.errors import ModelNotFound
from shipyard.sdk.client import Client

_MODEL = """
import numpy as np
from sklearn.linear_model import LogisticRegression
from shipyard import Client
X = np.random.default_rng(0).normal(size=(40, 3)); y = (X[:, 0] > 0).astype(int)
model = LogisticRegression().fit(X, y)
client = Client()
"""

# Dies inside the registering transaction: after the version row is inserted
# and the number allocated, before COMMIT.
KILLED_BEFORE_COMMIT = _MODEL + textwrap.dedent("""
    client.register_model(model, name="crash", sample_input=X[:5])
    import os, signal
    import shipyard.store.registry_store as registry_store
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    registry_store.record_event = die
    client.register_model(model, name="crash", sample_input=X[:5])
""")

LOOP = _MODEL + textwrap.dedent("""
    client.register_model(model, name="crash", sample_input=X[:5])  # warm up imports
    print("ready", flush=True)
    while True:
        client.register_model(model, name="crash", sample_input=X[:5])
""")


def _env(settings: StoreSettings) -> dict[str, str]:
    env = {**os.environ, "SHIPYARD_HOME": str(settings.home)}
    if settings.db_url:
        env["SHIPYARD_DB_URL"] = settings.db_url
    return env


def _assert_every_visible_version_loads(settings: StoreSettings) -> list[int]:
    with Client(settings=settings) as client:
        try:
            numbers = [v.version for v in client.list_model_versions("crash")]
        except ModelNotFound:  # killed before the first registration committed
            return []
        assert numbers == list(range(1, len(numbers) + 1))
        for number in numbers:
            client.load_model(f"models:/crash/{number}")
        return numbers


@pytest.mark.slow
def test_kill_inside_the_transaction_leaves_no_version(settings: StoreSettings) -> None:
    result = subprocess.run(
        [sys.executable, "-c", KILLED_BEFORE_COMMIT],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert _assert_every_visible_version_loads(settings) == [1]
    with Client(settings=settings) as client:  # the number given back is reused: no gap
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        X = np.random.default_rng(1).normal(size=(20, 3))
        model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
        assert client.register_model(model, name="crash", sample_input=X[:5]).version == 2


@pytest.mark.slow
def test_random_kills_during_a_registration_loop(settings: StoreSettings) -> None:
    Client(settings=settings).close()
    for delay in (0.05, 0.11, 0.17, 0.23, 0.31):
        worker = subprocess.Popen(
            [sys.executable, "-c", LOOP], env=_env(settings), stdout=subprocess.PIPE, text=True
        )
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        time.sleep(delay)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        _assert_every_visible_version_loads(settings)
    assert len(_assert_every_visible_version_loads(settings)) >= 1


def test_stray_temp_files_do_not_matter(sqlite_client: Client, tmp_path: Path) -> None:
    """A writer killed mid-copy leaves a temp file; objects and loads are unaffected."""
    temp = Path(sqlite_client.store.artifacts.root) / "tmp"
    temp.mkdir(parents=True, exist_ok=True)
    (temp / "deadbeef").write_bytes(b"half a model")
    ref = sqlite_client.store.artifacts.put_bytes(b"whole model")
    assert sqlite_client.store.artifacts.get_bytes(ref.sha256) == b"whole model"
