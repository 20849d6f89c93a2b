"""What the Runs list page was asked for, read from its query string, and the links and
CLI command that say the same thing. The filter and the order are parsed by
``shipyard.query`` (the CLI's own parser, through ``Client.search_runs``); this module only
reads the page's other fields: experiments, sort direction, page and columns."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from shipyard.errors import InvalidInput
from shipyard.query import parse_order_by

PAGE_SIZE = 50
DEFAULT_PARAMS = 3
DEFAULT_METRICS = 4
#: Attributes a column header can sort by (besides every param and metric).
SORTABLE = ("name", "status", "start_time")


@dataclass(frozen=True)
class RunQuery:
    filter: str = ""
    experiments: tuple[str, ...] = ()
    order: str = ""  # "" (newest first), an attribute, params.<key> or metrics.<key>
    descending: bool = False
    page: int = 1
    params: tuple[str, ...] | None = None  # columns chosen; None: the default handful
    metrics: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, query: QueryParams) -> RunQuery:
        """The page's fields; ``InvalidInput`` (a 400 page) names a field that makes no sense."""
        direction = query.get("dir", "asc").lower()
        if direction not in ("asc", "desc"):
            raise InvalidInput(f"dir must be asc or desc, got {direction!r}")
        page_text = query.get("page", "1").strip() or "1"
        if not page_text.isdigit() or int(page_text) < 1 or len(page_text) > 6:
            raise InvalidInput(f"page must be a whole number from 1, got {page_text!r}")
        order = query.get("order", "").strip()
        if len(order.split()) > 1:
            raise InvalidInput(
                f"order takes one key, e.g. metrics.auc (dir=asc|desc), got {order!r}"
            )
        if order:
            parse_order_by([order])  # the CLI's check: names the key that is wrong
        chosen = query.get("cols") == "1" or "param" in query or "metric" in query
        return cls(
            filter=query.get("filter", "").strip(),
            experiments=tuple(e for e in query.getlist("experiment") if e),
            order=order,
            descending=direction == "desc",
            page=int(page_text),
            params=tuple(query.getlist("param")) if chosen else None,
            metrics=tuple(query.getlist("metric")) if chosen else None,
        )

    @property
    def order_by(self) -> list[str]:
        return [f"{self.order} {'DESC' if self.descending else 'ASC'}"] if self.order else []

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def columns(self, params: Sequence[str], metrics: Sequence[str]) -> tuple[list[str], list[str]]:
        """The param and metric columns to show, of the keys that exist: the chosen ones (or
        the first few), plus the column the table is sorted by."""
        shown_params = _pick(self.params, params, DEFAULT_PARAMS)
        shown_metrics = _pick(self.metrics, metrics, DEFAULT_METRICS)
        entity, _, key = self.order.partition(".")
        if entity == "params" and key in params and key not in shown_params:
            shown_params.append(key)
        if entity == "metrics" and key in metrics and key not in shown_metrics:
            shown_metrics.append(key)
        return shown_params, shown_metrics

    def url(self, **changes: Any) -> str:
        """This page's link with some fields changed (``page`` back to 1 unless given)."""
        changes.setdefault("page", 1)
        query = replace(self, **changes)
        fields: list[tuple[str, str | int]] = [("filter", query.filter)] if query.filter else []
        fields += [("experiment", e) for e in query.experiments]
        if query.order:
            fields += [("order", query.order), ("dir", "desc" if query.descending else "asc")]
        if query.params is not None or query.metrics is not None:
            fields += [("cols", "1")]
            fields += [("param", p) for p in query.params or ()]
            fields += [("metric", m) for m in query.metrics or ()]
        if query.page > 1:
            fields.append(("page", query.page))
        return "/ui/runs" + ("?" + urlencode(fields) if fields else "")

    def sort_url(self, column: str) -> str:
        """The header link: sort by ``column``, ascending first, then the other way."""
        descending = column == self.order and not self.descending
        return self.url(order=column, descending=descending)

    def sort_state(self, column: str) -> str:
        """``ascending``/``descending`` for the sorted column (aria-sort and its visible word)."""
        if column != self.order:
            return ""
        return "descending" if self.descending else "ascending"

    def hidden_fields(self, *, columns: bool = True, search: bool = True) -> list[tuple[str, str]]:
        """The fields a form on the page carries along so that it changes only its own."""
        fields = [("filter", self.filter)] if self.filter and search else []
        fields += [("experiment", e) for e in self.experiments if search]
        if self.order:
            fields += [("order", self.order), ("dir", "desc" if self.descending else "asc")]
        if columns and (self.params is not None or self.metrics is not None):
            fields += [("cols", "1")]
            fields += [("param", p) for p in self.params or ()]
            fields += [("metric", m) for m in self.metrics or ()]
        return fields

    def cli(self) -> str:
        """The ``shipyard runs list`` command that lists the same runs (up to this page)."""
        words = ["shipyard", "runs", "list"]
        for experiment in self.experiments:
            words += ["-e", quote(experiment)]
        if self.filter:
            words += ["--filter", quote(self.filter)]
        if self.order:
            words += ["--order-by", quote(self.order_by[0])]
        words += ["--max", str(self.page * PAGE_SIZE)]
        return " ".join(words)


def _pick(chosen: tuple[str, ...] | None, keys: Sequence[str], default: int) -> list[str]:
    if chosen is None:
        return list(keys[:default])
    known = set(keys)
    return [key for key in dict.fromkeys(chosen) if key in known]


def quote(text: str) -> str:
    """A shell word, in double quotes when that reads better (filters hold single quotes)."""
    if text and all(c.isalnum() or c in "-_./:=" for c in text):
        return text
    if not any(c in text for c in '"$`\\!'):
        return f'"{text}"'
    return shlex.quote(text)
