"""Paging for dashboard tables: ``?page=N`` becomes LIMIT/OFFSET in the store query.

A page asks the store for one row more than it shows, so it knows whether a next page
exists without counting every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from shipyard.errors import InvalidInput

T = TypeVar("T")
MAX_PAGE = 1_000_000


def page_number(raw: str | None) -> int:
    """``?page=`` as a number from 1; anything else is a clear 400, not a 500."""
    if raw is None or raw == "":
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(f"page must be a whole number from 1 to {MAX_PAGE:,}, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows, and whether there are pages before and after it."""

    rows: list[T]
    number: int
    size: int
    more: bool

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.more else None


def page_of(fetched: Sequence[T], number: int, size: int) -> Page[T]:
    """A page from what the store returned for ``limit=size + 1``."""
    return Page(list(fetched[:size]), number, size, len(fetched) > size)


def fetch_page(fetch: Callable[[int, int], Sequence[T]], number: int, size: int) -> Page[T]:
    """Page ``number`` of ``fetch(limit, offset)``, asked for one row more than it shows."""
    return page_of(fetch(size + 1, (number - 1) * size), number, size)
