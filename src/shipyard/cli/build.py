"""``shipyard build DEPLOYMENT --out DIR [--bake | --fetch]``: a container build context."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import console, state
from shipyard.cli.output import print_json


def build(
    deployment: Annotated[str, typer.Argument(help="The deployment to package.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (new or empty).")],
    bake: Annotated[
        bool,
        typer.Option(
            "--bake/--fetch",
            help="--bake: copy the deployment's model trees into the image (immutable per "
            "version); --fetch: the container fetches them from the artifact store at start.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Write a Dockerfile, pinned requirements, Shipyard's wheel and a manifest for a
    deployment's serving image; secrets come from the container's environment."""
    result = state.client.build_container(deployment, out, bake=bake)
    if as_json:
        print_json(result.to_dict())
        return
    models = ", ".join(v["uri"] for v in result.versions)
    console.print(
        f"build context for {deployment} ({result.mode}: {models}) written to {out}: "
        f"{len(result.requirements)} pinned requirements on {result.base_image}"
    )
    console.print(f"next: docker build -t {deployment} {out}")
