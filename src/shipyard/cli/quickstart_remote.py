"""The quickstart's remote step: a training job that holds only a URL and a token.

A scientist's job on another machine would set ``SHIPYARD_URL`` and
``SHIPYARD_TOKEN``; here it is a second ``Client`` in this process, pointed at
a real server on a free port with its own download cache. It tracks a run,
registers a version (the model is packaged here and uploaded by hash) and loads
it back (downloaded, verified, cached); the server records all of it under the
token's user, and the role stops it short of moving ``champion``.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from dataclasses import dataclass

import pandas as pd

from shipyard.config import ServerSettings
from shipyard.errors import Conflict
from shipyard.sdk.client import Client
from shipyard.server.app import create_app
from shipyard.server.background import running_server

TRAINER = "quickstart-trainer"


@dataclass(frozen=True)
class RemoteSummary:
    run_id: str
    version_uri: str
    recorded_as: str
    agreement: float
    seconds: float
    champion_refused: bool


def train_remotely(
    client: Client,
    experiment: str,
    model_name: str,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
) -> RemoteSummary:
    from sklearn.ensemble import RandomForestClassifier

    from shipyard.sdk.remote import AccessDenied

    with contextlib.suppress(Conflict):  # a workspace that ran the quickstart before
        client.add_user(TRAINER, "scientist")
    token = client.create_token(
        f"quickstart-remote-{uuid.uuid4().hex[:6]}", "scientist", user=TRAINER, expires_in_s=3600
    )
    with (
        running_server(create_app(ServerSettings(), client=client)) as url,
        tempfile.TemporaryDirectory(prefix="shipyard-remote-cache-") as cache,
        Client(cache, url=url, token=token.token) as remote,
    ):
        _wait_until_known(remote, AccessDenied)
        started = time.perf_counter()
        with remote.start_run(experiment, params={"model": "random_forest"}) as run:
            model = RandomForestClassifier(n_estimators=50, random_state=0).fit(X_train, y_train)
            for step, depth in enumerate(sorted({e.get_depth() for e in model.estimators_})):
                run.log_metric("tree_depth", depth, step=step)
            run.log_metric("accuracy", float(model.score(X_test, y_test)))
            version = run.register_model(model, name=model_name, sample_input=X_test[:50])
        loaded = remote.load_model(version.uri)
        agreement = float((loaded.predict(X_test) == model.predict(X_test)).mean())
        seconds = time.perf_counter() - started
        refused = False
        try:
            remote.set_alias(model_name, "champion", version.version)
        except AccessDenied:
            refused = True
        recorded = remote.get_run(run.id).user
    return RemoteSummary(run.id, version.uri, recorded, agreement, seconds, refused)


def _wait_until_known(remote: Client, denied: type[Exception]) -> None:
    """A new token reaches the server's access table with its next refresh (< 1 s)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            remote.list_experiments()
            return
        except denied:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
