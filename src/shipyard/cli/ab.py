"""``shipyard ab start|status|report|stop``: A/B experiments that decide.

``ab`` because ``shipyard experiments`` already names groups of tracked runs.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shipyard.abtest.spec import DEFAULT_MIN_SHARE, ExperimentSpec
from shipyard.cli.app import console, state
from shipyard.cli.output import print_json, table, when
from shipyard.deploy.rollouts import parse_duration
from shipyard.errors import InvalidInput

ab_app = typer.Typer(
    help="A/B experiments between model versions: outcomes, significance, SRM, bandits.",
    no_args_is_help=True,
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        metric, sep, covariate = value.partition("=")
        if not sep or not metric or not covariate:
            raise InvalidInput(f"{what} must be METRIC=COLUMN, e.g. outcome.revenue=in.past_spend")
        pairs[metric.strip()] = covariate.strip()
    return pairs


@ab_app.command("start")
def start(
    name: str,
    deployment: Annotated[str, typer.Option("--deployment", "-d", help="The deployment.")],
    arms: Annotated[
        str,
        typer.Option(
            help="fraud/3=50,fraud/4=50; the first is the control (a bandit may omit =W)."
        ),
    ],
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="accuracy, abs_error, latency_ms or outcome.NAME[:rate|mean][:lower] "
            "(repeatable; the first decides).",
        ),
    ] = None,
    key: Annotated[
        str, typer.Option(help="Sticky assignment key: header:NAME or field:COLUMN.")
    ] = "header:X-Shipyard-Key",
    guardrail: Annotated[
        list[str] | None,
        typer.Option("--guardrail", "-g", help="e.g. p99_ms<=50, error_rate<=0.01 (repeatable)."),
    ] = None,
    min_samples: Annotated[int, typer.Option(min=1, help="Per arm, before any decision.")] = 1000,
    alpha: Annotated[float, typer.Option(help="False-positive rate of a decision.")] = 0.05,
    power: Annotated[float, typer.Option(help="Chance to detect the minimum effect.")] = 0.8,
    min_effect: Annotated[
        float, typer.Option(help="Smallest lift worth detecting, relative (0.05 = 5%).")
    ] = 0.05,
    sequential: Annotated[
        bool, typer.Option(help="Always-valid intervals: safe to look (and stop) any time.")
    ] = False,
    pre: Annotated[
        list[str] | None,
        typer.Option(help="CUPED covariate METRIC=in.COLUMN or METRIC=outcome.NAME (repeatable)."),
    ] = None,
    bandit: Annotated[
        bool, typer.Option(help="Thompson sampling moves the weights toward the best reward.")
    ] = False,
    reward: Annotated[
        str | None, typer.Option(help="The bandit's reward: outcome.NAME, in [0, 1].")
    ] = None,
    min_share: Annotated[
        float, typer.Option(help="The bandit's floor per arm.")
    ] = DEFAULT_MIN_SHARE,
    update_every: Annotated[str, typer.Option(help="How often the bandit updates.")] = "10s",
    max_step: Annotated[float, typer.Option(help="Largest weight move per update.")] = 0.2,
    as_json: JsonFlag = False,
) -> None:
    """Start an experiment: sets the deployment's A/B (or bandit) policy and records it."""
    record = state.client.ab_start(
        name,
        deployment=deployment,
        arms=arms,
        metrics=metric or [],
        key=key,
        guardrails=guardrail or [],
        min_samples=min_samples,
        alpha=alpha,
        power=power,
        min_effect=min_effect,
        sequential=sequential,
        pre=_pairs(pre, "--pre"),
        bandit=bandit,
        reward=reward,
        min_share=min_share,
        update_every_s=parse_duration(update_every),
        max_step=max_step,
    )
    if as_json:
        print_json(record.to_dict())
        return
    spec = ExperimentSpec.from_dict(record.spec)
    arms_text = ", ".join(
        f"{label}={arm.weight:.3g}%" for label, arm in zip(spec.labels, spec.arms, strict=True)
    )
    kind = "bandit" if record.spec.get("bandit") else f"A/B by {record.spec['key']}"
    console.print(
        f"experiment [bold]{name}[/] on {deployment}: {kind}, {arms_text}; "
        f"follow with [cyan]shipyard ab report {name}[/]"
    )


@ab_app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="One experiment (default: all).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Experiments and their state (one, or all)."""
    records = [state.client.ab_status(name)] if name else state.client.ab_list()
    if as_json:
        print_json([r.to_dict() for r in records] if name is None else records[0].to_dict())
        return
    table(
        None,
        ["experiment", "deployment", "status", "kind", "started", "by", "ended", "result"],
        [
            (
                r.name,
                r.deployment,
                r.status,
                "bandit" if r.spec.get("bandit") else "A/B",
                when(r.started_at),
                r.started_by,
                when(r.stopped_at),
                (r.outcome or {}).get("verdict", "-"),
            )
            for r in records
        ],
    )


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def _print_report(data: dict[str, Any]) -> None:
    decision = data["decision"]
    colour = {"winner": "green", "invalid": "red", "no_difference": "yellow"}.get(
        decision["verdict"], "cyan"
    )
    mode = "sequential (always valid)" if data["sequential"] else "fixed horizon"
    console.print(
        f"experiment [bold]{data['name']}[/] on {data['deployment']} ({data['status']}, {mode}, "
        f"alpha {data['alpha']:g}); control {data['control']}"
    )
    srm = data["srm"]
    table(
        "assignment",
        ["arm", "users", "share", "expected"],
        [
            (
                arm,
                f"{count:,}",
                _fmt(count / max(sum(data["assigned"].values()), 1), ".1%"),
                _fmt(data["expected_shares"][arm], ".0%"),
            )
            for arm, count in data["assigned"].items()
        ],
    )
    if srm is not None:
        flag = "[red]MISMATCH[/]" if srm["flagged"] else "[green]ok[/]"
        console.print(
            f"sample ratio check: {flag} (chi2 {srm['chi2']:.3g}, p = {srm['p_value']:.3g})"
        )
    for metric in data["metrics"]:
        rows = []
        means = {a["arm"]: a for a in metric["arms"]}
        for arm, info in means.items():
            c = metric["comparisons"].get(arm)
            rows.append(
                (
                    arm,
                    f"{info['n']:,}",
                    _fmt(info["mean"]),
                    "-" if c is None else f"{c['difference']:+.4g}",
                    "-" if c is None or c["relative"] is None else f"{c['relative']:+.1%}",
                    "-" if c is None else f"[{c['ci_low']:+.4g}, {c['ci_high']:+.4g}]",
                    "-" if c is None else f"{c['p_value']:.3g}",
                    "control" if arm == data["control"] else metric["verdicts"].get(arm, "-"),
                )
            )
        needed = metric["required_per_arm"]
        title = f"{metric['metric']} ({metric['kind']})" + (
            f", {needed:,} per arm for the declared power" if needed else ""
        )
        table(title, ["arm", "n", "mean", "diff", "lift", "CI", "p", "verdict"], rows)
        cuped = [a for a, c in metric["comparisons"].items() if c["cuped"]]
        if cuped:
            console.print(f"  CUPED-adjusted with {metric['comparisons'][cuped[0]]['method']}")
    if data["guardrails"]:
        table(
            "guardrails",
            ["guardrail", "arm", "value", "holds"],
            [
                (
                    g["guardrail"],
                    g["arm"],
                    _fmt(g["value"]),
                    {True: "yes", False: "NO"}.get(g["holds"], "no data"),
                )
                for g in data["guardrails"]
            ],
        )
    if data["bandit"] is not None:
        section = data["bandit"]
        table(
            f"bandit on {section['reward']}",
            ["arm", "rewarded", "mean reward", "P(best)", "weight now"],
            [
                (
                    arm,
                    f"{reward['trials']:,.0f}",
                    _fmt(reward["successes"] / reward["trials"] if reward["trials"] else None),
                    _fmt(section["probability_best"][arm], ".1%"),
                    _fmt(section["weights"][-1]["weights"][arm], ".1%")
                    if section["weights"]
                    else "-",
                )
                for arm, reward in section["rewards"].items()
            ],
        )
        history = section["weights"]
        if history:
            arms = list(section["rewards"])
            step = max(1, len(history) // 10)  # at most ~10 rows, always the latest
            shown = [*history[-1::-step][::-1]]
            table(
                f"weights over time ({len(history)} update(s))",
                ["when", *arms],
                [(when(h["at"]), *(_fmt(h["weights"].get(a), ".1%") for a in arms)) for h in shown],
            )
        console.print(
            f"estimated regret {section['estimated_regret']:.1f} reward(s) "
            "(rewards lost against always serving the best arm, by posterior means)"
        )
    console.print(f"[bold {colour}]{decision['verdict'].upper()}[/]: {decision['reason']}")


@ab_app.command("report")
def report(
    name: str,
    promote: Annotated[
        bool, typer.Option(help="Stop it and start a canary rollout of the winner.")
    ] = False,
    steps: Annotated[
        str | None, typer.Option(help="With --promote: the rollout's steps [default: 5,25,50,100].")
    ] = None,
    interval: Annotated[
        str | None, typer.Option(help="With --promote: minimum time per step [default: 60s].")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Per arm and metric: count, mean, difference to the control with its interval and
    p-value; the sample-ratio check, guardrails and the decision."""
    if not promote:
        if steps or interval:
            raise InvalidInput("--steps and --interval go with --promote")
        data = state.client.ab_report(name).to_dict()
        if as_json:
            print_json(data)
        else:
            _print_report(data)
        return
    rollout: dict[str, Any] = {}
    if steps:
        try:
            rollout["steps"] = [float(s) for s in steps.split(",")]
        except ValueError:
            raise InvalidInput(f"--steps must be numbers like 5,25,50,100, got {steps!r}") from None
    if interval:
        rollout["interval_s"] = parse_duration(interval)
        rollout["deadline_s"] = rollout["interval_s"] * 10
    result, started = state.client.ab_promote(name, rollout=rollout or None)
    if as_json:
        print_json({"report": result.to_dict(), "rollout": started.to_dict() if started else None})
        return
    _print_report(result.to_dict())
    if started is None:
        console.print(f"experiment {name} stopped; the control keeps serving")
    else:
        console.print(
            f"experiment {name} stopped; rollout {started.id} of {started.deployment} to "
            f"v{started.candidate_version} started — follow with "
            f"[cyan]shipyard rollout status {started.deployment}[/]"
        )


@ab_app.command("stop")
def stop(
    name: str,
    reason: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Stop it; the deployment returns to the policy it had before."""
    record = state.client.ab_stop(name, reason=reason)
    if as_json:
        print_json(record.to_dict())
        return
    console.print(f"experiment {name} stopped; {record.deployment} is back on its earlier policy")
