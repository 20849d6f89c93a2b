"""Checks shared by the dashboard and alert tests: parse PromQL, walk its AST.

Like grafana/dashboard-linter's target-promql rule, Grafana variables are
replaced by placeholders before parsing. The walk enforces what Triton's
dashboard gets wrong: a counter (or a histogram's cumulative series) is only
ever read as the range argument of rate()/increase().
"""

from __future__ import annotations

import re
from typing import Any

import promql_parser

from shipyard.serving.metric_catalogue import SERIES

RANGE_FUNCTIONS = {"rate", "increase", "irate"}
_DURATIONS = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def substitute(expr: str) -> str:
    """Grafana's built-in durations become durations; template variables a placeholder."""
    for variable, duration in _DURATIONS.items():
        expr = expr.replace(variable, duration)
    return _VARIABLE.sub("placeholder", expr)


def metric_names(expr: str) -> list[str]:
    """Every series name the query selects, after checking how each is read."""
    found: list[str] = []
    _walk(promql_parser.parse(substitute(expr)), None, found)
    return found


def _walk(node: Any, under: str | None, found: list[str]) -> None:
    if isinstance(node, promql_parser.VectorSelector):
        _check(node.name, under, found, ranged=False)
    elif isinstance(node, promql_parser.MatrixSelector):
        _check(node.vector_selector.name, under, found, ranged=True)
    elif isinstance(node, promql_parser.Call):
        for arg in node.args:
            _walk(arg, node.func.name, found)
    elif isinstance(node, promql_parser.AggregateExpr):
        _walk(node.expr, None, found)
        if node.param is not None:
            _walk(node.param, None, found)
    elif isinstance(node, promql_parser.BinaryExpr):
        _walk(node.lhs, None, found)
        _walk(node.rhs, None, found)
    elif isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr):
        _walk(node.expr, None, found)
    elif isinstance(node, promql_parser.SubqueryExpr):
        _walk(node.expr, "subquery", found)
    elif not isinstance(node, promql_parser.NumberLiteral | promql_parser.StringLiteral):
        raise AssertionError(f"unexpected PromQL node {type(node).__name__}")


def _check(name: str | None, under: str | None, found: list[str], *, ranged: bool) -> None:
    assert name, "every selector names its metric"
    assert name in SERIES, f"{name} is not in the metric catalogue"
    if SERIES[name].cumulative:
        assert ranged and under in RANGE_FUNCTIONS, (
            f"{name} is cumulative: read it only as rate()/increase() of a range, "
            f"not under {under or 'nothing'}"
        )
    found.append(name)
