"""What a subscription may be. A category expression is read as /arxiv/{expression} reads it, a
venue must be one papersift knows, a saved search must parse as a query; each comes back in one
canonical form, so the same subscription asked for twice is stored once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from papersift.errors import InvalidQuery
from papersift.models import CADENCES, SUBSCRIPTION_KINDS, Paper
from papersift.venues import VENUE_NAMES, canonical_venue, venue_display_name
from service.api.browse import parse_category_expression
from service.search.filters import make_filters
from service.search.query_language import parse_query

MAX_EXPRESSION = 500
SEARCH_FILTERS = ("source", "category", "venue", "track", "year_from", "year_to")
LIST_FILTERS = ("category", "venue", "track")


@dataclass(frozen=True)
class Wanted:
    kind: str
    expression: str
    filters: dict[str, Any]
    cadence: str


def checked(session: Session, *, kind: str, expression: str, filters: dict[str, Any] | None,
            cadence: str | None) -> Wanted:
    """The subscription in canonical form; InvalidQuery (400) says what to change."""
    if kind not in SUBSCRIPTION_KINDS:
        raise InvalidQuery(f"kind {kind!r} is not one of {', '.join(SUBSCRIPTION_KINDS)}",
                           hint="category (an arXiv expression such as cs.AI+cs.LG-cs.CY), venue (e.g. "
                           "neurips) or search (a query)")
    if cadence is not None and cadence not in CADENCES:
        raise InvalidQuery(f"cadence {cadence!r} is not one of {', '.join(CADENCES)}", hint="use daily or weekly")
    expression = (expression or "").strip()
    if len(expression) > MAX_EXPRESSION:
        raise InvalidQuery(f"the expression has {len(expression)} characters; at most {MAX_EXPRESSION}",
                           hint="shorten it")
    filters = filters or {}
    if kind != "search" and filters:
        raise InvalidQuery(f"a {kind} subscription takes no filters", hint="filters belong to saved searches")
    if kind == "category":
        return Wanted(kind, _category(expression), {}, cadence or "daily")
    if kind == "venue":
        if cadence == "daily":
            raise InvalidQuery("venue subscriptions are weekly", hint="venue papers arrive by conference "
                               "list, a few times a year; leave cadence out or use weekly")
        return Wanted(kind, _venue(session, expression), {}, "weekly")
    return Wanted(kind, _search(expression, filters), _search_filters(filters), cadence or "daily")


def label(kind: str, expression: str, filters: dict[str, Any]) -> str:
    """How a subscription reads in a list: `arXiv cs.AI+cs.LG`, `NeurIPS`, `search "graph" (cat cs.LG)`."""
    if kind == "category":
        return f"arXiv {expression}"
    if kind == "venue":
        return venue_display_name(expression)
    narrowed = ", ".join(f"{k.replace('_', ' ')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                         for k in SEARCH_FILTERS if (v := filters.get(k)) not in (None, "", []))
    return f"search “{expression}”" + (f" ({narrowed})" if narrowed else "")


def _category(expression: str) -> str:
    include, exclude = parse_category_expression(expression)
    return "+".join(include) + "".join(f"-{c}" for c in exclude)


def _venue(session: Session, expression: str) -> str:
    slug = canonical_venue(expression)
    if not slug or (slug not in VENUE_NAMES and not session.scalar(select(exists().where(Paper.venue_slug == slug)))):
        raise InvalidQuery(f"no venue {expression[:40]!r}",
                           hint="use a venue slug as /venues lists them, e.g. neurips, iclr, acl")
    return slug


def _search(expression: str, filters: dict[str, Any]) -> str:
    if not expression and not filters:
        raise InvalidQuery("a saved search needs a query or filters", hint='e.g. "graph neural networks" cat:cs.LG')
    parse_query(expression)  # raises InvalidQuery naming the operator used wrongly
    return " ".join(expression.split())


def _search_filters(filters: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(filters) - set(SEARCH_FILTERS))
    if unknown:
        raise InvalidQuery(f"unknown filter {unknown[0]!r}; filters are {', '.join(SEARCH_FILTERS)}",
                           hint="remove it")
    try:
        normalised = {k: (sorted({str(x) for x in v}) if isinstance(v, list) else [str(v)]) if k in LIST_FILTERS
                      else (int(v) if k.startswith("year") else str(v))
                      for k, v in filters.items() if v not in (None, "", [])}
    except (TypeError, ValueError):
        raise InvalidQuery("year_from and year_to are years", hint="e.g. year_from 2024") from None
    make_filters(**normalised)  # refuses an unknown source or a year range the wrong way round
    return normalised
