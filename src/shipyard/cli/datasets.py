"""``shipyard datasets add|list|show|diff|validate|expectations`` and ``shipyard lineage``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.tree import Tree

from shipyard.cli.app import console, refuse_unused, state
from shipyard.cli.output import fmt_number, print_json, read_spec, table, when
from shipyard.datasets.lineage import Node

datasets_app = typer.Typer(
    help="Versioned data: snapshots, schemas, validation.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@datasets_app.command("add")
def add(name: str, path: Path, as_json: JsonFlag = False) -> None:
    """Add a CSV/Parquet file or folder as the next version (or find identical content)."""
    before = {r.version for r in state.client.list_datasets(name)}
    record = state.client.add_dataset(name, path)
    if as_json:
        print_json(record.to_dict())
        return
    verb = "already stored as" if record.version in before else "added"
    console.print(
        f"{verb} [bold]{record.uri}[/]: {record.rows:,} rows, "
        f"{len(record.schema['columns'])} columns, sha256 {record.sha256[:12]}…"
    )


@datasets_app.command("list")
def list_versions(
    name: Annotated[str | None, typer.Argument()] = None, as_json: JsonFlag = False
) -> None:
    records = state.client.list_datasets(name)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table(
        None,
        ["dataset", "version", "rows", "columns", "kind", "added", "sha256"],
        [
            (
                r.name,
                r.version,
                f"{r.rows:,}",
                len(r.schema["columns"]),
                r.kind,
                when(r.created_at),
                r.sha256[:12],
            )
            for r in records
        ],
    )


@datasets_app.command("show")
def show(
    name: str,
    version: Annotated[int | None, typer.Option("--version", "-v")] = None,
    as_json: JsonFlag = False,
) -> None:
    record = state.client.get_dataset(name, version)
    if as_json:
        print_json(record.to_dict())
        return
    console.print(
        f"[bold]{record.uri}[/] {record.rows:,} rows from {record.source} "
        f"({record.kind}, {record.format}, {record.size:,} bytes) by "
        f"{record.created_by} {when(record.created_at)}",
        highlight=False,
    )
    table(
        "schema",
        ["column", "dtype", "nullable", "nulls", "values seen"],
        [
            (
                c["name"],
                c["dtype"],
                "yes" if c["nullable"] else "no",
                c["nulls"],
                ", ".join(map(str, c.get("categories", [])[:8]))
                or (
                    f"{fmt_number(c.get('minimum'))} … {fmt_number(c.get('maximum'))}"
                    if "minimum" in c
                    else ""
                ),
            )
            for c in record.schema["columns"]
        ],
    )


@datasets_app.command("diff")
def diff(name: str, old: int, new: int, as_json: JsonFlag = False) -> None:
    """Schema changes, row counts and per-column distribution shift between versions."""
    result = state.client.diff_datasets(name, old, new)
    if as_json:
        print_json(result)
        return
    console.print(
        f"{name} v{old} → v{new}: rows {result['rows']['from']:,} → "
        f"{result['rows']['to']:,}; added {result['added_columns'] or '-'}; removed "
        f"{result['removed_columns'] or '-'}; type changes "
        f"{result['type_changes'] or '-'}"
    )
    table(
        "distribution shift",
        ["column", "method", "distance", "shifted"],
        [
            (c, s["method"], fmt_number(s["distance"]), "yes" if s["shifted"] else "")
            for c, s in result["distribution_shift"].items()
        ],
    )


@datasets_app.command("expectations")
def expectations(
    name: str,
    infer_from: Annotated[int | None, typer.Option(help="Infer from this version")] = None,
    set_from: Annotated[Path | None, typer.Option("--set", help="Store this YAML spec")] = None,
) -> None:
    """Print the expectations as YAML (edit, then store them with --set FILE)."""
    if set_from is not None:
        refuse_unused("--set (it stores the file as it is)", infer_from=infer_from)
        state.client.set_expectations(name, read_spec(set_from, "expectations"))
        console.print(f"expectations of {name} stored")
        return
    console.print(
        yaml.safe_dump(state.client.expectations(name, infer_from=infer_from), sort_keys=False),
        markup=False,
        highlight=False,
    )


@datasets_app.command("validate")
def validate(name: str, path: Path, as_json: JsonFlag = False) -> None:
    """Check a file or folder against the dataset's expectations; non-zero exit on failure."""
    report = state.client.validate_dataset(name, path)
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        console.print(f"[green]valid[/]: {report.rows:,} rows meet every expectation of {name}")
    else:
        console.print(
            f"[red]invalid[/]: {len(report.failures)} rule(s) failed on {report.rows:,} rows"
        )
        table(
            None,
            ["rule", "column", "failing rows", "examples"],
            [
                (f.rule, f.column or "-", f.count, "; ".join(str(e) for e in f.examples[:3]))
                for f in report.failures
            ],
        )
    if not report.ok:
        raise typer.Exit(1)


def _tree(node: Node, tree: Tree) -> None:
    for child in node.children:
        _tree(child, tree.add(f"[bold]{child.kind}[/] {child.id}  [dim]{child.detail}[/]"))


def lineage(uri: str, as_json: JsonFlag = False) -> None:
    """Where a model came from and where it went, or what was built from a dataset."""
    root = state.client.lineage(uri)
    if as_json:
        print_json(root.to_dict())
        return
    tree = Tree(f"[bold]{root.kind}[/] {root.id}  [dim]{root.detail}[/]")
    _tree(root, tree)
    console.print(tree)
