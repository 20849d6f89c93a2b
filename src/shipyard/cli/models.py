"""``shipyard models ...``: list, show, register, aliases, MLflow import, cards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard.cli.app import console, fail, refuse_unused, state
from shipyard.cli.explain import explain_command
from shipyard.cli.output import fmt_number, print_json, table, when
from shipyard.cli.sample import read_sample
from shipyard.errors import InvalidInput
from shipyard.registry.service import OPTIMIZE_TAG

models_app = typer.Typer(help="The model registry: versions, aliases, cards.", no_args_is_help=True)
alias_app = typer.Typer(
    help="Movable names on versions (champion, challenger, ...).", no_args_is_help=True
)
models_app.add_typer(alias_app, name="alias")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@models_app.command("list")
def list_models(as_json: JsonFlag = False) -> None:
    """Registered models with their latest version and aliases."""
    models = state.client.list_models()
    if as_json:
        print_json([m.to_dict() for m in models])
        return
    table(
        f"{len(models)} model(s)",
        ["name", "latest", "aliases", "updated"],
        [
            (
                m.name,
                m.latest_version,
                ", ".join(f"{a}→v{v}" for a, v in m.aliases.items()) or "-",
                when(m.updated_at),
            )
            for m in models
        ],
    )


@models_app.command("show")
def show_model(
    name: str,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="A version number or 'latest'.")
    ] = None,
    alias: Annotated[
        str | None, typer.Option("--alias", "-a", help="Show the aliased version.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """A model and its versions, or one version in full."""
    client = state.client
    if alias is not None:
        refuse_unused("--alias (an alias names one version)", version=version)
    if version is None and alias is None:
        model = client.get_model(name)
        versions = client.list_model_versions(name)
        if as_json:
            print_json({**model.to_dict(), "versions": [v.to_dict() for v in versions]})
            return
        console.print(f"[bold]{model.name}[/]  {model.description or ''}")
        table(
            None,
            ["version", "flavor", "aliases", "run", "registered", "sha256"],
            [
                (
                    v.version,
                    v.flavor,
                    ", ".join(v.aliases) or "-",
                    (v.run_id or "-")[:12],
                    when(v.created_at),
                    v.sha256[:12],
                )
                for v in versions
            ],
        )
        return
    found = (
        client.get_model_version_by_alias(name, alias)
        if alias is not None
        else client.get_model_version(name, version or "latest")
    )
    if as_json:
        print_json(found.to_dict())
        return
    console.print(
        f"[bold]{found.uri}[/]  flavor {found.flavor}  aliases {', '.join(found.aliases) or '-'}"
    )
    console.print(
        f"sha256 {found.sha256}  ({found.size:,} bytes)  registered "
        f"{when(found.created_at)} by {found.created_by}",
        highlight=False,
    )
    if found.run_id:
        console.print(f"run {found.run_id}")
    if found.metrics:
        table("metrics", ["key", "value"], [(k, fmt_number(v)) for k, v in found.metrics.items()])
    table(
        "input signature",
        ["column", "dtype", "nullable", "values seen"],
        [
            (
                c.name,
                c.dtype,
                "yes" if c.nullable else "no",
                (
                    ", ".join(map(str, c.categories[:8]))
                    if c.categories is not None
                    else f"{c.minimum:.4g} … {c.maximum:.4g}"
                    if c.minimum is not None
                    else ""
                ),
            )
            for c in found.signature.inputs
        ],
    )
    if found.signature.outputs is not None:
        out = found.signature.outputs
        classes = f", classes {list(out.classes)}" if out.classes is not None else ""
        console.print(f"output: {out.task}, dtype {out.dtype}{classes}")
    reports = found.tags.get(OPTIMIZE_TAG)
    if found.tags:
        shown = {k: v for k, v in found.tags.items() if k != OPTIMIZE_TAG}
        table("tags", ["key", "value"], sorted(shown.items()))
    if reports is not None:
        _print_optimization(json.loads(reports))


def _print_optimization(report: dict[str, Any]) -> None:
    """The parity and latency reports ``shipyard optimize`` stored with the version."""
    parity, latency = report["parity"], report["latency"]
    console.print(
        f"optimized from {report['derived_from']} ({report['input_dtype']} inputs): "
        f"max |Δ{parity['compared']}| {parity['max_diff']:.3g} (gate {parity['threshold']:g}), "
        f"{parity['label_flips']} label flip(s) on {parity['rows']:,} rows; "
        f"quantization {report['quantization']['status']}",
        highlight=False,
    )
    table(
        "latency, one thread (medians, ms)",
        ["rows", "source", "onnx", "speed-up"],
        [
            ("1", latency["source_1_row_ms"], latency["onnx_1_row_ms"], latency["speedup_1_row"]),
            (
                "1,000",
                latency["source_1000_rows_ms"],
                latency["onnx_1000_rows_ms"],
                latency["speedup_1000_rows"],
            ),
        ],
    )


@models_app.command("card")
def model_card(
    name: str, version: Annotated[str, typer.Option("--version", "-v")] = "latest"
) -> None:
    """Print a version's generated model card (Markdown), with its global importance."""
    console.print(state.client.model_card(name, version), markup=False, highlight=False)


models_app.command("explain")(explain_command)


@models_app.command("register")
def register(
    path: Annotated[
        Path, typer.Argument(help="A .onnx, .skops, or (with --trust) .joblib/.pkl model file.")
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Model name.")],
    sample_input: Annotated[
        Path | None,
        typer.Option(
            "--sample-input", "-s", help="CSV or Parquet rows to infer the signature from."
        ),
    ] = None,
    trust: Annotated[
        bool, typer.Option("--trust", help="Allow pickle-based files (they run code when loaded).")
    ] = False,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Link to this run.")] = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Register a model file as the next version of NAME."""
    model, options = _read_model_file(path, trust)
    sample = read_sample(sample_input) if sample_input is not None else None
    version = state.client.register_model(
        model, name=name, sample_input=sample, run_id=run_id, description=description, **options
    )
    _report_version(version.to_dict() if as_json else None, version.uri, version.sha256)


def _read_model_file(path: Path, trust: bool) -> tuple[Any, dict[str, Any]]:
    if not path.exists():
        fail(f"model file {str(path)!r} does not exist")
    if path.is_dir():
        if (path / "MLmodel").is_file():
            fail(
                f"{path} is an MLflow model folder; use: shipyard models import-mlflow {path} "
                "--name NAME"
            )
        fail(f"{path} is a folder; expected a model file")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return path, {}
    if suffix == ".skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=path)
        if untrusted and not trust:
            fail(
                f"{path} contains types skops does not trust by default: {untrusted}; "
                "re-run with --trust if you trust this file"
            )
        return sio.load(path, trusted=untrusted), {}
    if suffix in (".joblib", ".pkl", ".pickle"):
        if not trust:
            fail(
                f"{path} is a pickle; loading it runs code. Re-run with --trust if you produced "
                "it yourself"
            )
        import joblib

        return joblib.load(path), {"serialization": "joblib"}
    raise InvalidInput(
        f"unsupported model file type {suffix!r}: use .onnx, .skops, .joblib or .pkl"
    )


def _report_version(as_json: dict[str, Any] | None, uri: str, sha256: str) -> None:
    if as_json is not None:
        print_json(as_json)
    else:
        console.print(f"registered [bold]{uri}[/] (sha256 {sha256[:16]}…)")


@models_app.command("import-mlflow")
def import_mlflow(
    path: Annotated[Path, typer.Argument(help="An MLflow model folder (with an MLmodel file).")],
    name: Annotated[str, typer.Option("--name", "-n", help="Model name.")],
    sample_input: Annotated[
        Path | None,
        typer.Option(
            "--sample-input",
            "-s",
            help="CSV or Parquet rows, if the model names no inputs (no signature, input "
            "example or fitted column names).",
        ),
    ] = None,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust", help="Allow a pickled model or loader module (they run code when loaded)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import an existing MLflow model (sklearn or python_function flavor)."""
    sample = read_sample(sample_input) if sample_input is not None else None
    version = state.client.import_mlflow_model(path, name=name, sample_input=sample, trust=trust)
    _report_version(version.to_dict() if as_json else None, version.uri, version.sha256)


@models_app.command("describe")
def describe(
    name: str,
    description: str,
    version: Annotated[int | None, typer.Option("--version", "-v")] = None,
) -> None:
    """Set the description of a model, or of one version."""
    state.client.set_description(name, description, version=version)
    console.print("description updated")


@models_app.command("tag")
def tag(
    name: str,
    key: str,
    value: str,
    version: Annotated[int | None, typer.Option("--version", "-v")] = None,
) -> None:
    """Set a tag on a model, or on one version."""
    if version is None:
        state.client.set_model_tag(name, key, value)
    else:
        state.client.set_version_tag(name, version, key, value)
    console.print("tag set")


@alias_app.command("set")
def alias_set(name: str, alias: str, version: int) -> None:
    """Point ALIAS of NAME at VERSION (moving it if it exists)."""
    previous = state.client.set_alias(name, alias, version)
    moved = f" (was v{previous})" if previous is not None and previous != version else ""
    console.print(f"models:/{name}@{alias} → v{version}{moved}")


@alias_app.command("delete")
def alias_delete(name: str, alias: str) -> None:
    """Remove ALIAS from NAME (its history is kept)."""
    previous = state.client.delete_alias(name, alias)
    console.print(f"deleted models:/{name}@{alias} (was v{previous})")


@alias_app.command("history")
def alias_history(
    name: str, alias: Annotated[str | None, typer.Argument()] = None, as_json: JsonFlag = False
) -> None:
    """Every set, move and delete of the model's aliases."""
    changes = state.client.alias_history(name, alias)
    if as_json:
        print_json([c.to_dict() for c in changes])
        return
    table(
        None,
        ["when", "alias", "from", "to", "by"],
        [
            (
                when(c.at),
                c.alias,
                f"v{c.previous_version}" if c.previous_version else "-",
                f"v{c.version}" if c.version is not None else "(deleted)",
                c.actor,
            )
            for c in changes
        ],
    )
