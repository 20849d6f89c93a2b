"""The servers under test: their environments, artifacts, commands and request formats.

Every server runs as its own process group on a free 127.0.0.1 port and is
stopped by killing that group. The peers get OpenMP/BLAS limited to one thread
from the environment, as their docs advise; Shipyard is started the way its
README starts it, with no thread variables, and must limit its pools itself.

- Shipyard: ``shipyard --home H serve`` (this interpreter), native protocol.
- Shipyard ONNX: the same command over a second home where each model's
  deployment serves its optimized version (``Client.optimize``: ONNX behind the
  parity gate), so the two Shipyard rows differ only in the model format.
- MLflow: ``mlflow models serve --env-manager local``, one server per model
  (it serves one model), from its own venv.
- MLServer + mlserver-sklearn 1.7.1, its own venv (uvloop 0.21), both models
  in one server, ``parallel_workers: 0`` (inference in the serving process).
- The bare FastAPI app (``bare_app.py``), uvicorn + uvloop + httptools.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sklearn
from models import Models

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BENCH_DIR = ROOT / ".bench"
MLFLOW_VENVS = (BENCH_DIR / "mlflow-venv", BENCH_DIR / "mlflow-serve-venv")
MLSERVER_VENV = BENCH_DIR / "mlserver-venv"
MLFLOW_SPEC = "mlflow>=3,<4"
MLSERVER_SPECS = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop==0.21.*")
HOST = "127.0.0.1"
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONUNBUFFERED": "1"}
SILENCE_FEATURE_NAMES = "ignore:X does not have valid feature names:UserWarning"
MLSERVER_BATCH = {"max_batch_size": 64, "max_batch_time": 0.002}

#: Keys of every configuration, in table order; ``shipyard-oip`` runs only when asked for.
ALL_SERVERS = (
    "shipyard",
    "shipyard-w2",
    "shipyard-oip",
    "shipyard-nolog",
    "shipyard-onnx",
    "mlflow",
    "mlserver",
    "mlserver-batch",
    "bare",
)
#: Diagnostic configurations, run only when named in --servers.
EXTRA_SERVERS = ("shipyard-oip", "shipyard-nolog")
DEFAULT_SERVERS = tuple(k for k in ALL_SERVERS if k not in EXTRA_SERVERS)
LABELS = {
    "shipyard": "Shipyard, 1 worker",
    "shipyard-w2": "Shipyard, 2 workers",
    "shipyard-oip": "Shipyard OIP v2, 1 worker",
    "shipyard-nolog": "Shipyard, 1 worker, no pred. log",
    "shipyard-onnx": "Shipyard ONNX (optimized), 1 worker",
    "mlflow": "MLflow models serve",
    "mlserver": "MLServer",
    "mlserver-batch": "MLServer + adaptive batching",
    "bare": "bare FastAPI",
}
FAMILY = {
    "shipyard": "shipyard",
    "shipyard-w2": "shipyard",
    "shipyard-oip": "shipyard",
    "shipyard-nolog": "shipyard",
    "shipyard-onnx": "shipyard",
    "mlflow": "mlflow",
    "mlserver": "mlserver",
    "mlserver-batch": "mlserver",
    "bare": "bare",
}

Notify = Callable[[str], None]


# -- request formats -------------------------------------------------------------------
def _dumps(value: Any) -> bytes:
    # Python's float repr round-trips, so every server parses exactly these numbers.
    return json.dumps(value, separators=(",", ":")).encode()


class Protocol:
    """How to ask a server for one row's probabilities, and read them back."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.headers = dict(headers or {})  # e.g. Shipyard's bearer token

    def path(self, model: str) -> str:
        raise NotImplementedError

    def body(self, model: str, row: list[float], columns: list[str]) -> bytes:
        raise NotImplementedError

    def probabilities(self, payload: Any) -> np.ndarray:
        raise NotImplementedError


class ShipyardNative(Protocol):
    """``POST /v1/deployments/{name}/predict`` with ``{"inputs": [record]}``."""

    def path(self, model: str) -> str:
        return f"/v1/deployments/{model}/predict"

    def body(self, model: str, row: list[float], columns: list[str]) -> bytes:
        return _dumps({"inputs": [dict(zip(columns, row, strict=True))]})

    def probabilities(self, payload: Any) -> np.ndarray:
        return np.asarray(payload["probabilities"], dtype=np.float64)


class OpenInference(Protocol):
    """OIP v2 ``POST /v2/models/{name}/infer``: one FP64 tensor [1, n], ``predict_proba`` out."""

    def path(self, model: str) -> str:
        return f"/v2/models/{model}/infer"

    def body(self, model: str, row: list[float], columns: list[str]) -> bytes:
        return _dumps(
            {
                "inputs": [
                    {"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}
                ],
                "outputs": [{"name": "predict_proba"}],
            }
        )

    def probabilities(self, payload: Any) -> np.ndarray:
        for output in payload["outputs"]:
            if output["name"] == "predict_proba":
                data = np.asarray(output["data"], dtype=np.float64)
                return data.reshape(output["shape"])
        raise ValueError(f"no predict_proba output in {payload!r}")


class MLflowScoring(Protocol):
    """``POST /invocations`` with ``{"dataframe_split": {...}}``."""

    def path(self, model: str) -> str:
        return "/invocations"

    def body(self, model: str, row: list[float], columns: list[str]) -> bytes:
        return _dumps({"dataframe_split": {"columns": columns, "data": [row]}})

    def probabilities(self, payload: Any) -> np.ndarray:
        return np.asarray(payload["predictions"], dtype=np.float64)


class BareProtocol(Protocol):
    """``POST /predict/{name}`` with ``{"data": [row]}``."""

    def path(self, model: str) -> str:
        return f"/predict/{model}"

    def body(self, model: str, row: list[float], columns: list[str]) -> bytes:
        return _dumps({"data": [row]})

    def probabilities(self, payload: Any) -> np.ndarray:
        return np.asarray(payload["probabilities"], dtype=np.float64)


# -- a running server --------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerSpec:
    """One server process to start: what it serves and how to talk to it."""

    key: str
    models: tuple[str, ...]
    argv: list[str]
    env: dict[str, str]
    port: int
    protocol: Protocol
    ready_paths: list[str]
    log: Path
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return LABELS[self.key]

    @property
    def family(self) -> str:
        return FAMILY[self.key]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Launch in a new session (its own process group)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"$ {' '.join(self.argv)}\n".encode())
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = 180.0) -> float:
        """Poll the readiness paths until all answer 200; returns seconds to ready."""
        started = time.monotonic()
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            pending = list(self.ready_paths)
            while pending:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.label} exited before it was ready; see {self.log}:\n"
                        + _tail(self.log)
                    )
                if time.monotonic() - started > timeout_s:
                    raise RuntimeError(
                        f"{self.label} not ready after {timeout_s:.0f}s; see {self.log}:\n"
                        + _tail(self.log)
                    )
                try:
                    if client.get(pending[0]).status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        return time.monotonic() - started

    def predict(self, model: str, rows: Sequence[list[float]], columns: list[str]) -> np.ndarray:
        """Probabilities for ``rows``, one single-row request each."""
        out = []
        with httpx.Client(base_url=self.base_url, timeout=30.0) as client:
            for row in rows:
                response = client.post(
                    self.protocol.path(model),
                    content=self.protocol.body(model, row, columns),
                    headers={"content-type": "application/json", **self.protocol.headers},
                )
                if response.status_code != 200:
                    raise RuntimeError(
                        f"{self.label} answered {response.status_code} for {model}: "
                        f"{response.text[:500]}"
                    )
                out.append(self.protocol.probabilities(response.json()).reshape(-1))
        return np.vstack(out)

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout_s)
        # Workers or children may outlive the leader: finish the whole group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.process = None


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- environments ----------------------------------------------------------------------
def _probe(python: Path, code: str) -> dict[str, Any] | None:
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        return None
    try:
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return None


def venv_versions(python: Path, modules: Sequence[str]) -> dict[str, Any] | None:
    """Installed versions of ``modules`` (distribution names) in a venv, None if broken."""
    code = (
        "import json, importlib.metadata as m, sys\n"
        f"names = {list(modules)!r}\n"
        "import sklearn, numpy\n"
        "print(json.dumps({n: m.version(n) for n in names} | "
        "{'python': sys.version.split()[0]}))"
    )
    return _probe(python, code)


def _venv_ok(versions: dict[str, Any] | None, need: Sequence[str]) -> bool:
    return (
        versions is not None
        and versions.get("scikit-learn") == sklearn.__version__
        and versions.get("numpy") == np.__version__
        and all(n in versions for n in need)
    )


def _make_venv(path: Path, specs: Sequence[str], notify: Notify) -> None:
    notify(f"creating {path.relative_to(ROOT)} and installing {' '.join(specs)} (a few minutes)")
    if not (path / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    log = BENCH_DIR / f"{path.name}-pip.log"
    with log.open("w") as out:
        done = subprocess.run(
            # --no-compile: byte-code is written on first import instead (2 min -> 45 s)
            [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", *specs],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"pip install into {path} failed; see {log}:\n{_tail(log)}")


def _pins() -> list[str]:
    import pandas

    return [
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pandas.__version__}",
    ]


MLFLOW_DISTS = ("mlflow", "scikit-learn", "numpy", "pandas", "uvicorn", "fastapi")
MLSERVER_DISTS = (
    "mlserver",
    "mlserver-sklearn",
    "scikit-learn",
    "numpy",
    "pandas",
    "uvicorn",
    "uvloop",
    "fastapi",
)


def ensure_mlflow_venv(notify: Notify) -> tuple[Path, dict[str, Any]]:
    """A venv whose MLflow can serve models pickled by this scikit-learn (reused if it works)."""
    for venv in MLFLOW_VENVS:
        versions = venv_versions(venv / "bin" / "python", MLFLOW_DISTS)
        if _venv_ok(versions, MLFLOW_DISTS) and (venv / "bin" / "mlflow").exists():
            assert versions is not None
            return venv, versions
    venv = MLFLOW_VENVS[1]
    _make_venv(venv, [MLFLOW_SPEC, *_pins()], notify)
    versions = venv_versions(venv / "bin" / "python", MLFLOW_DISTS)
    if not _venv_ok(versions, MLFLOW_DISTS):
        raise RuntimeError(f"{venv} does not have matching mlflow/scikit-learn: {versions}")
    assert versions is not None
    return venv, versions


def ensure_mlserver_venv(notify: Notify) -> tuple[Path, dict[str, Any]]:
    """``.bench/mlserver-venv`` with MLServer 1.7.1 + mlserver-sklearn and uvloop 0.21."""
    python = MLSERVER_VENV / "bin" / "python"
    versions = venv_versions(python, MLSERVER_DISTS)
    if not (_venv_ok(versions, MLSERVER_DISTS) and versions and versions["mlserver"] == "1.7.1"):
        _make_venv(MLSERVER_VENV, [*MLSERVER_SPECS, *_pins()], notify)
        versions = venv_versions(python, MLSERVER_DISTS)
        if not _venv_ok(versions, MLSERVER_DISTS):
            raise RuntimeError(f"{MLSERVER_VENV} is not usable: {versions}")
    assert versions is not None
    return MLSERVER_VENV, versions


# -- building each configuration ---------------------------------------------------------
def _env(extra: dict[str, str] | None = None, venv: Path | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env.update(THREAD_ENV)
    env.update(QUIET_ENV)
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
    env.update(extra or {})
    return env


def user_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a user's shell: none of the thread variables the peers get.

    Shipyard must hold its own ``--model-threads`` limit (an earlier run that exported
    ``OMP_NUM_THREADS=1`` to it hid a 5x slowdown). ``PYTHONPATH`` only points at the
    run's snapshot of the same source (see ``snapshot_shipyard``).
    """
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", *THREAD_ENV}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra or {})
    return env


def snapshot_shipyard(dest: Path, notify: Notify, attempts: int = 15) -> str:
    """Copy ``src/shipyard`` to ``dest`` once it imports cleanly; returns its digest.

    ``src/`` is edited while benchmarks run; every Shipyard process of one run
    (this one and the servers, via ``PYTHONPATH``) uses this one consistent copy.
    """
    check = (
        "import shipyard.cli.main, shipyard.server.asgi, tempfile\n"
        "from shipyard import Client\n"
        "Client(tempfile.mkdtemp()).close()"
    )
    problem = ""
    for attempt in range(attempts):
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(
            ROOT / "src" / "shipyard",
            dest / "shipyard",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        done = subprocess.run(
            [sys.executable, "-c", check],
            env=_env({"PYTHONPATH": str(dest)}),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            digest = hashlib.sha256()
            for path in sorted((dest / "shipyard").rglob("*.py")):
                digest.update(str(path.relative_to(dest)).encode() + path.read_bytes())
            return digest.hexdigest()[:16]
        problem = (done.stderr.strip().splitlines() or ["?"])[-1]
        notify(f"[yellow]src/shipyard does not import right now ({problem}); retrying in 20 s")
        if attempt + 1 < attempts:
            time.sleep(20)
    raise RuntimeError(f"src/shipyard never imported cleanly: {problem}")


TOKEN_FILE = "bench-token"


def prepare_shipyard(models: Models, home: Path) -> None:
    """Register both models, create one deployment per model in a fresh workspace, and a
    predict token as users make one (the server requires it); kept in ``home/bench-token``."""
    from shipyard import Client

    with Client(home) as client:
        for name, estimator in models.estimators.items():
            version = client.register_model(estimator, name=name, sample_input=models.frame[:50])
            client.create_deployment(name, f"{name}/{version.version}")
        token = client.create_token("bench", "predictor")
    (home / TOKEN_FILE).write_text(token.token)


ONNX_HOME = "shipyard-onnx-home"


def prepare_shipyard_onnx(models: Models, home: Path) -> dict[str, dict[str, Any]]:
    """Like ``prepare_shipyard``, but each deployment serves the model's optimized version:
    registered with its training frame as reference data, then ``client.optimize`` (ONNX
    behind the parity gate). Returns each optimization's parity and latency reports."""
    from shipyard import Client

    reports = {}
    with Client(home) as client:
        for name, estimator in models.estimators.items():
            client.register_model(
                estimator, name=name, sample_input=models.frame[:50], reference_data=models.frame
            )
            result = client.optimize(f"models:/{name}/1")
            client.create_deployment(name, result.version.uri.removeprefix("models:/"))
            reports[name] = result.to_dict()
        token = client.create_token("bench", "predictor")
    (home / TOKEN_FILE).write_text(token.token)
    return reports


def prepare_mlflow(models: Models, venv: Path, folder: Path) -> dict[str, Path]:
    """One MLflow model folder per model, written by the MLflow venv's interpreter."""
    out = {}
    for name, path in models.files.items():
        target = folder / name
        if not target.exists():
            subprocess.run(
                [
                    str(venv / "bin" / "python"),
                    str(HERE / "mlflow_save.py"),
                    str(path),
                    str(target),
                ],
                check=True,
                env=_env(venv=venv),
                capture_output=True,
            )
        out[name] = target
    return out


def prepare_mlserver(models: Models, folder: Path, *, batching: bool, port: int) -> Path:
    """A model repository: settings.json plus one model-settings.json + model.joblib per model."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": HOST,
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,  # one process: inference on the serving event loop
        "debug": False,  # debug mode turns on uvicorn's per-request access log
        "load_models_at_startup": True,
    }
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    for name, path in models.files.items():
        model_dir = folder / name
        model_dir.mkdir(exist_ok=True)
        target = model_dir / "model.joblib"
        if not target.exists():
            target.write_bytes(path.read_bytes())
        model_settings: dict[str, Any] = {
            "name": name,
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.joblib", "version": "v1"},
        }
        if batching:
            model_settings.update(MLSERVER_BATCH)
        (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    return folder


@dataclass
class Environments:
    """Interpreters found or made for the peers (None where one could not be made)."""

    mlflow: Path | None = None
    mlserver: Path | None = None
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def specs_for(
    key: str, models: Models, names: Sequence[str], work: Path, envs: Environments, logs: Path
) -> list[ServerSpec]:
    """The server processes of one configuration (MLflow needs one per model)."""
    wanted = tuple(names)
    if FAMILY[key] == "shipyard":
        workers = "2" if key == "shipyard-w2" else "1"
        port = free_port()
        home = work / (ONNX_HOME if key == "shipyard-onnx" else "shipyard-home")
        shipyard = Path(sys.executable).parent / "shipyard"
        # As the README starts it: `shipyard serve`, no thread variables, no tuning flags.
        argv = [str(shipyard), "--home", str(home), "serve", "--host", HOST, "--port", str(port)]
        if workers != "1":
            argv += ["--workers", workers]
        auth = {"authorization": f"Bearer {(home / TOKEN_FILE).read_text().strip()}"}
        protocol: Protocol = OpenInference(auth) if key == "shipyard-oip" else ShipyardNative(auth)
        env = user_env({"PYTHONPATH": str(work / "shipyard-src")})
        if key == "shipyard-nolog":  # the prediction log (on by default) switched off
            env["SHIPYARD_PREDICTION_LOG"] = "false"
        return [
            ServerSpec(key, wanted, argv, env, port, protocol, ["/health"], logs / f"{key}.log")
        ]
    if key == "mlflow":
        assert envs.mlflow is not None
        folders = prepare_mlflow(models, envs.mlflow, work / "mlflow-models")
        specs = []
        for name in wanted:
            port = free_port()
            argv = [
                str(envs.mlflow / "bin" / "mlflow"),
                "models",
                "serve",
                "-m",
                str(folders[name]),
            ]
            argv += ["--env-manager", "local", "--host", HOST, "--port", str(port)]
            argv += ["--workers", "1"]
            specs.append(
                ServerSpec(
                    key,
                    (name,),
                    argv,
                    _env(venv=envs.mlflow),
                    port,
                    MLflowScoring(),
                    ["/ping"],
                    logs / f"{key}-{name}.log",
                )
            )
        return specs
    if FAMILY[key] == "mlserver":
        assert envs.mlserver is not None
        port = free_port()
        repo = prepare_mlserver(models, work / key, batching=key == "mlserver-batch", port=port)
        argv = [str(envs.mlserver / "bin" / "mlserver"), "start", str(repo)]
        ready = ["/v2/health/ready", *(f"/v2/models/{n}/ready" for n in wanted)]
        return [
            ServerSpec(
                key,
                wanted,
                argv,
                # scikit-learn warns on every call that the tensor has no feature names, and
                # under MLServer each warning is printed; Shipyard and bare_app silence it too.
                _env({"PYTHONWARNINGS": SILENCE_FEATURE_NAMES}, venv=envs.mlserver),
                port,
                OpenInference(),
                ready,
                logs / f"{key}.log",
                cwd=repo,
            )
        ]
    if key == "bare":
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(HERE)]
        argv += ["--host", HOST, "--port", str(port), "--workers", "1", "--loop", "uvloop"]
        argv += ["--http", "httptools", "--no-access-log", "--log-level", "warning"]
        env = _env({"BARE_MODELS_DIR": str(models.files[wanted[0]].parent)})
        return [
            ServerSpec(key, wanted, argv, env, port, BareProtocol(), ["/health"], logs / "bare.log")
        ]
    raise ValueError(f"unknown server {key!r}; use one of {ALL_SERVERS}")


def ensure_mlflow_client_venv(version: str, notify: Notify) -> Path:
    """``.bench/mlflow-client-<version>``: that MLflow client with this scikit-learn (so
    pickles match), reused while it still imports; for the stock-client tests."""
    venv = BENCH_DIR / f"mlflow-client-{version}"
    dists = ("mlflow", "scikit-learn", "numpy")
    versions = venv_versions(venv / "bin" / "python", dists)
    if versions and versions.get("mlflow") == version and _venv_ok(versions, ("mlflow",)):
        return venv
    # MLflow 2 wants pandas < 3: pin only what must match for models to load both ways.
    pins = _pins() if int(version.split(".")[0]) >= 3 else _pins()[:2]
    _make_venv(venv, [f"mlflow=={version}", *pins], notify)
    versions = venv_versions(venv / "bin" / "python", dists)
    if not (versions and versions.get("mlflow") == version and _venv_ok(versions, ("mlflow",))):
        raise RuntimeError(f"{venv} does not have mlflow {version} with matching scikit-learn")
    return venv
