"""``shipyard quickstart``: the whole loop, end to end, on the embedded store.

Trains a classifier on scikit-learn's bundled breast-cancer data (nothing is
downloaded), tracks the run, registers the model, makes it ``champion``,
loads it back by alias, serves it over three protocols with labels arriving
later; then the world drifts, the monitor fires, the alert triggers the
retraining pipeline, its gate passes and a canary rollout promotes v2; a
batch job scores a CSV file and a stream consumer a few Redis messages with
what the deployment serves now; the champion is compiled to ONNX, one
prediction explained, and an A/B experiment between the two decides on live
traffic which serves better; a remote job trains through the server, and the
deployment is packaged for production (container context, Kubernetes
manifests, Grafana dashboard, alert rules).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from shipyard.cli.app import console, state

if TYPE_CHECKING:
    from shipyard.cli.quickstart_ab import ABSummary
    from shipyard.cli.quickstart_loop import LoopSummary
    from shipyard.cli.quickstart_optimize import OptimizeSummary
    from shipyard.cli.quickstart_production import ProductionSummary
    from shipyard.cli.quickstart_scoring import BatchSummary, StreamSummary

MODEL_NAME = "breast-cancer"
DATASET = "breast-cancer-data"
EXPERIMENT = "quickstart"
#: What quickstart does, in order: the progress bar and the help text both list these.
STEPS = (
    "load data",
    "train and track",
    "register",
    "set champion",
    "load by alias",
    "score",
    "deploy and serve",
    "drift → alert → retrain → gate → canary",
    "batch scoring",
    "stream scoring",
    "optimize and explain",
    "A/B experiment",
    "a remote training job",
    "package for production",
    "open the dashboard",
)


def quickstart(
    seed: Annotated[int, typer.Option(help="Random seed for the split and the model.")] = 7,
) -> None:
    """Run the whole loop once: train, register, serve, label, drift, alert, retrain, canary.

    Labels arrive, a monitor alerts on drift, a pipeline retrains, a gate checks, a canary
    rolls it out.
    """
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, classification_report, f1_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Imported here, not at the top: `shipyard --help` should not load the server and
    # scikit-learn to list the commands.
    from shipyard.cli.quickstart_ab import run_an_experiment
    from shipyard.cli.quickstart_dashboard import tour_dashboard
    from shipyard.cli.quickstart_loop import PIPELINE, close_the_loop, shift
    from shipyard.cli.quickstart_optimize import optimize_and_explain
    from shipyard.cli.quickstart_production import write_production_files
    from shipyard.cli.quickstart_remote import train_remotely
    from shipyard.cli.quickstart_scoring import score_a_stream, score_in_batch
    from shipyard.cli.quickstart_serving import serve_and_call
    from shipyard.sdk.client import Client

    client = state.local_client
    console.print(f"[bold]Shipyard quickstart[/] — workspace {client.settings.home.resolve()}")
    steps = STEPS
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    with progress:
        task = progress.add_task(steps[0], total=len(steps))

        bundled = load_breast_cancer(as_frame=True).frame  # ships with scikit-learn
        dataset = client.add_dataset(DATASET, bundled)  # a versioned, hash-verified snapshot
        data = client.load_dataset(f"datasets:/{DATASET}/{dataset.version}")
        X, y = data.drop(columns=["target"]), data["target"]
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=seed, stratify=y
        )
        progress.update(task, advance=1, description=steps[1])

        params = {"model": "logistic_regression", "C": 1.0, "max_iter": 2000, "seed": seed}
        with client.start_run(EXPERIMENT, params=params, tags={"source": "quickstart"}) as run:
            model = make_pipeline(
                StandardScaler(), LogisticRegression(C=params["C"], max_iter=params["max_iter"])
            )
            started = time.perf_counter()
            model.fit(X_train, y_train)
            run.log_metrics({"train_seconds": time.perf_counter() - started})
            scores = model.predict_proba(X_test)[:, 1]
            predicted = model.predict(X_test)
            metrics = {
                "auc": roc_auc_score(y_test, scores),
                "accuracy": accuracy_score(y_test, predicted),
                "f1": f1_score(y_test, predicted),
            }
            run.log_metrics(metrics, step=1)
            with tempfile.TemporaryDirectory() as folder:
                report = Path(folder) / "classification_report.txt"
                report.write_text(classification_report(y_test, predicted))
                run.log_artifact(report)
            run.log_input(DATASET, dataset.version, dataset.sha256)
            progress.update(task, advance=1, description=steps[2])
            version = run.register_model(
                model, name=MODEL_NAME, sample_input=X_test[:50], reference_data=X_train
            )
        progress.update(task, advance=1, description=steps[3])

        client.set_alias(MODEL_NAME, "champion", version.version)
        progress.update(task, advance=1, description=steps[4])

        fresh = Client(settings=client.settings)  # as another process would
        loaded = fresh.load_model(f"models:/{MODEL_NAME}@champion")
        progress.update(task, advance=1, description=steps[5])

        probabilities = loaded.predict_proba(X_test)
        agreement = float(np.mean(loaded.predict(X_test) == predicted))
        fresh.close()
        progress.update(task, advance=1, description=steps[6])

        # The server runs with authentication on, as `shipyard serve` does: the quickstart
        # makes itself a token (shown once) and sends it with every request.
        token = client.create_token(
            f"quickstart-{uuid.uuid4().hex[:6]}", "admin", expires_in_s=3600
        )
        headers = {"authorization": f"Bearer {token.token}"}
        served = serve_and_call(client, MODEL_NAME, X_test, headers=headers)
        labels = [
            {"request_id": request_id, "label": int(y_test.iloc[row])}
            for request_id, row in served.sent.items()
        ]
        client.add_feedback(MODEL_NAME, labels)  # ground truth arrives after the predictions
        quality = client.model_quality(MODEL_NAME)[0]
        drift = client.drift(MODEL_NAME)
        progress.update(task, advance=1, description=steps[7])

        base = progress.tasks[task].description

        def say(text: str) -> None:
            progress.update(task, description=f"{base}: {text}")

        loop = close_the_loop(client, DATASET, shift(data), say=say, headers=headers)
        progress.update(task, advance=1, description=steps[8])

        batch = score_in_batch(client, MODEL_NAME, X)
        progress.update(task, advance=1, description=steps[9])

        stream = score_a_stream(client, MODEL_NAME, X)
        progress.update(task, advance=1, description=steps[10])

        optimized = optimize_and_explain(client, MODEL_NAME, X_test[:1])
        progress.update(task, advance=1, description=steps[11])

        # The champion against its ONNX version; without the onnx extra, against the
        # version it replaced.
        challenger = (
            optimized.result.version if optimized.result is not None else version
        ).uri.removeprefix("models:/")
        experiment = run_an_experiment(
            client,
            MODEL_NAME,
            challenger,
            shift(data).drop(columns=["target"]),
            data["target"],
            headers=headers,
        )
        progress.update(task, advance=1, description=steps[12])

        remote = train_remotely(
            client, EXPERIMENT, f"{MODEL_NAME}-remote", X_train, y_train, X_test, y_test
        )
        progress.update(task, advance=1, description=steps[13])

        production = write_production_files(client, MODEL_NAME)
        progress.update(task, advance=1, description=steps[14])

        dashboard = tour_dashboard(client, MODEL_NAME, MODEL_NAME)
        progress.update(task, advance=1, description="done")

    console.print()
    console.print(
        f"[green]✓[/] dataset {dataset.uri}: {dataset.rows} rows, "
        f"{len(dataset.schema['columns'])} columns, sha256 {dataset.sha256[:12]}…"
    )
    console.print(
        f"[green]✓[/] tracked run [bold]{run.id}[/] in experiment '{EXPERIMENT}': "
        + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())
    )
    console.print(
        f"[green]✓[/] registered [bold]{version.uri}[/] ({version.flavor}, "
        f"sha256 {version.sha256[:12]}…, {len(version.signature.inputs)} input columns)"
    )
    console.print(f"[green]✓[/] models:/{MODEL_NAME}@champion → v{version.version}")
    console.print(
        f"[green]✓[/] loaded models:/{MODEL_NAME}@champion (hash verified) and scored "
        f"{len(X_test)} rows: mean P(benign)={probabilities[:, 1].mean():.3f}, "
        f"agreement with the trained model {agreement:.0%}"
    )
    console.print(
        f"[green]✓[/] deployment '{MODEL_NAME}' served v{served.version} over HTTP: "
        f"native, OIP v2 and MLflow /invocations agree on {served.rows} rows; "
        f"{served.requests} concurrent single-row requests all answered, "
        f"{served.mean_batch:.1f} per model call (adaptive micro-batching)"
    )
    console.print(
        f"[green]✓[/] monitored: {quality.rows:,} predictions logged, {quality.labelled:,} "
        f"labelled later: accuracy {quality.metrics.get('accuracy', float('nan')):.3f} "
        f"(estimated without labels {quality.estimated.get('accuracy', float('nan')):.3f}); "
        f"drift: {len(drift.drifted_columns)} of {len(drift.columns)} columns"
    )
    _print_loop(loop)
    _print_batch(batch)
    _print_stream(stream)
    _print_optimized(optimized)
    _print_experiment(experiment)
    console.print(
        f"[green]✓[/] a remote job holding only a URL and a scientist token tracked run "
        f"{remote.run_id[:12]} and registered [bold]{remote.version_uri}[/] through the server "
        f"in {remote.seconds:.1f} s (model uploaded by hash, loaded back verified: "
        f"{remote.agreement:.0%} agreement); recorded as '{remote.recorded_as}'"
        + ("; moving champion was refused (403)" if remote.champion_refused else "")
    )
    _print_production(production)
    console.print(
        f"[green]✓[/] dashboard: signed in at /ui with a viewer token and opened "
        f"{len(dashboard.pages)} pages (overview, runs, models, deployment, rollout, monitoring, "
        f"datasets, pipelines): median {dashboard.median_ms:.0f} ms, slowest "
        f"{dashboard.slowest_ms:.0f} ms; the viewer saw {dashboard.viewer_buttons} rollout buttons"
    )
    console.print()
    console.print(
        f"[green]✓[/] every request carried token {token.record.name} "
        f"({token.record.display}, role admin, expires in 1 h); without it the server answers 401"
    )
    console.print()
    console.print("Serve it yourself (authentication is on; make a token, shown once):")
    console.print("  [cyan]shipyard tokens create --name me --role deployer[/]")
    console.print(
        "  [cyan]shipyard serve[/]   (then open http://localhost:8000/ui and sign in with it, "
        "or, in another shell)"
    )
    console.print(
        f"  [cyan]curl -s localhost:8000/v1/deployments/{MODEL_NAME}/predict "
        '-H "authorization: Bearer $TOKEN" '
        f"-H 'content-type: application/json' -d @{served.example_file}[/]"
    )
    console.print()
    console.print("Look around:")
    for command in (
        f"shipyard runs list -e {EXPERIMENT}",
        f"shipyard runs show {run.id[:12]}",
        f"shipyard models show {MODEL_NAME} --version {version.version}",
        f"shipyard models card {MODEL_NAME}",
        f"shipyard models alias history {MODEL_NAME}",
        "shipyard deployments list",
        f"shipyard rollout status {MODEL_NAME}",
        f"shipyard pipelines runs {PIPELINE}",
        f"shipyard pipelines show {loop.run.id} --logs",
        f"shipyard models show {MODEL_NAME} --version latest",
        "shipyard monitor alerts",
        f"shipyard lineage models:/{MODEL_NAME}@champion",
        f"shipyard lineage datasets:/{DATASET}/{dataset.version}",
        f"shipyard monitor quality {MODEL_NAME}",
        f"shipyard monitor report {MODEL_NAME} --out report.html",
        "shipyard batch jobs",
        f"shipyard ab report {experiment.name}",
    ):
        console.print(f"  [cyan]{command}[/]")


def _print_production(production: ProductionSummary) -> None:
    folder = production.folder
    baked = ", ".join(production.image_versions)
    if production.image_skipped is None:
        console.print(
            f"[green]✓[/] container context {folder / 'image'}: {baked} "
            f"baked in by hash, {production.requirements} pinned requirements, non-root, "
            "health-checked (docker build it anywhere)"
        )
    else:
        console.print(f"[yellow]-[/] container context skipped: {escape(production.image_skipped)}")
    kinds = ", ".join(production.manifests)
    console.print(
        f"[green]✓[/] Kubernetes manifests in {folder / 'k8s'} ({kinds}), "
        f"a Grafana dashboard ({production.panels} panels) and {production.alerts} Prometheus "
        f"alerting rules in {folder}"
    )


def _print_batch(batch: BatchSummary) -> None:
    job = batch.job
    console.print(
        f"[green]✓[/] batch job [bold]{job.name}[/] scored {job.rows_done - job.rows_rejected:,} "
        f"of {job.rows_done:,} rows of {batch.input.name} with {job.model} v{job.version} "
        f"(what deployment '{job.deployment}' serves now) on 2 workers, "
        f"{job.rows_per_s or 0:,.0f} rows/s; {job.rows_rejected} unreadable rows set aside in "
        f"{batch.rejects}; its predictions are in the deployment's prediction log"
    )


def _print_optimized(optimized: OptimizeSummary) -> None:
    result = optimized.result
    if result is None:
        console.print(f"[yellow]-[/] ONNX compilation skipped: {escape(optimized.skipped or '')}")
        _print_explained(optimized)
        return
    parity, latency = result.parity, result.latency
    console.print(
        f"[green]✓[/] optimized {result.source} to [bold]{result.version.uri}[/] (onnx): "
        f"max |Δp| {parity.max_diff:.1e} on {parity.rows:,} rows, {parity.label_flips} flips "
        f"(the gate); one row {latency.source_1_row_ms:.2f} → {latency.onnx_1_row_ms:.3f} ms "
        f"({latency.speedup_1_row:.0f}x), 1,000 rows {latency.speedup_1000_rows:.1f}x faster"
    )
    _print_explained(optimized)


def _print_explained(optimized: OptimizeSummary) -> None:
    row = optimized.explained
    pushes = ", ".join(f"{name} {value:+.2f}" for name, value in optimized.top)
    console.print(
        f"[green]✓[/] explained one prediction ({row['method']}, {row['output_space']}): "
        f"base {_scalar(row['base_value']):+.2f}, strongest inputs {pushes}; "
        f"they add up to the output within {row['residual']:.0e}"
    )


def _print_experiment(experiment: ABSummary) -> None:
    report = experiment.report
    assigned = ", ".join(f"{arm} {n}" for arm, n in report["assigned"].items())
    srm = "ok" if report["srm"] and not report["srm"]["flagged"] else "MISMATCH"
    console.print(
        f"[green]✓[/] A/B experiment [bold]{experiment.name}[/]: {experiment.users} users split "
        f"by X-User ({assigned}; sample ratio {srm}); diagnoses fed back afterwards"
    )
    for metric in report["metrics"]:
        for arm, c in metric["comparisons"].items():
            means = {a["arm"]: a["mean"] for a in metric["arms"]}
            lift = f" ({c['relative']:+.1%})" if c["relative"] is not None else ""
            console.print(
                f"    {metric['metric']}: {report['control']} {means[report['control']]:.4g} vs "
                f"{arm} {means[arm]:.4g}, difference {c['difference']:+.3g}{lift}, always-valid "
                f"{1 - report['alpha']:.0%} CI [{c['ci_low']:+.3g}, {c['ci_high']:+.3g}], "
                f"p = {c['p_value']:.2g}"
            )
    decision = report["decision"]
    console.print(
        f"    decision: [bold]{decision['verdict']}[/] — {decision['reason']}; stopped (the "
        "champion serves again); `shipyard ab report NAME --promote` rolls a winner out"
    )


def _scalar(value: Any) -> float:
    return float(next(iter(value.values()))) if isinstance(value, dict) else float(value)


def _print_stream(stream: StreamSummary) -> None:
    if stream.skipped is not None:
        console.print(f"[yellow]-[/] stream scoring skipped: {stream.skipped}")
        return
    example = stream.example or {}
    console.print(
        f"[green]✓[/] stream consumer scored {stream.scored} of {stream.sent} messages from "
        f"Redis stream {stream.stream} with v{example.get('version', '?')}; each answer is on "
        f"{stream.stream}:out keyed by its message id (e.g. {example.get('id', '?')} → "
        f"{example.get('predictions', '?')}, request id {example.get('request_id', '?')})"
    )


def _print_loop(loop: LoopSummary) -> None:
    from shipyard.cli.quickstart_loop import SHIFTED

    run = loop.run
    console.print(
        f"[green]✓[/] the world drifted ({len(SHIFTED)} size features read 30% larger): "
        f"{loop.requests:,} requests served, {loop.labels:,} labels fed back; monitor "
        f"alert [bold]{loop.alert.rule}[/] fired ({loop.alert.message})"
    )
    steps = ", ".join(f"{s.name} {s.status}" for s in run.steps)
    console.print(
        f"[green]✓[/] the alert started pipeline run [bold]{run.id}[/] ({run.pipeline}, "
        f"defined in {loop.pipeline_file}): {steps}"
    )
    gate = run.step("gate").outputs.get("value") or {}
    for check in gate.get("checks", []):
        console.print(f"    gate {'passed' if check['passed'] else 'FAILED'}: {check['detail']}")
    style = "green" if run.status == "succeeded" else "red"
    console.print(f"[{style}]{'✓' if run.status == 'succeeded' else '✗'}[/] {run.outcome}")
