"""A deployed workspace to package, and readers for the generated Dockerfile.

The readers parse what the Dockerfile says (its RUN, ENV and CMD lines) so the
end-to-end test runs the image's own commands instead of re-deriving them.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from shipyard import Client
from shipyard.deploy.policy import ShadowPolicy
from shipyard.registry.uri import parse_model_spec


def deploy_shadowed(client: Client, fitted_pipeline: Any, X: Any) -> None:
    """Deployment ``cancer``: v1 answers, v2 shadows it (both must be packaged)."""
    from sklearn.tree import DecisionTreeClassifier

    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:20])
    other = DecisionTreeClassifier(max_depth=2).fit(X, (X.iloc[:, 0] > 14).astype(int))
    client.register_model(other, name="cancer", sample_input=X[:20])
    client.create_deployment("cancer", "cancer/1")
    client.set_policy(
        "cancer", ShadowPolicy(parse_model_spec("cancer/1"), (parse_model_spec("cancer/2"),))
    )


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    found = instructions(dockerfile)
    last_from = max(i for i, (op, _) in enumerate(found) if op == "FROM")
    return found[last_from:]


def run_commands(dockerfile: Path) -> list[list[str]]:
    """The builder's RUN line, split at ``&&`` into argv lists."""
    runs = [args for op, args in instructions(dockerfile) if op == "RUN"]
    return [shlex.split(part) for part in runs[0].split("&&")]


def exec_form(dockerfile: Path, instruction: str = "CMD") -> list[str]:
    """The last CMD (or ENTRYPOINT) as its JSON array; fails on shell form."""
    args = [a for op, a in instructions(dockerfile) if op == instruction][-1]
    parsed = json.loads(args)
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), args
    return parsed


def env_of(dockerfile: Path) -> dict[str, str]:
    """The final stage's ENV settings (``K=V`` pairs), in order."""
    env: dict[str, str] = {}
    for op, args in final_stage(dockerfile):
        if op == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env
