"""/api/v1/search: hybrid keyword + semantic search with filters, facets and explanations."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from papersift.errors import InvalidQuery
from papersift.llm.query_translation import Translation, translate_query
from service.reads import ReadPool
from service.schemas import Explanation, Facets, Highlights, SearchBody, SearchResponse, SearchResult
from service.search.cards import Card, load_cards
from service.search.engine import RankedPaper, SearchOutcome, SearchRequest
from service.search.filters import make_filters
from service.search.highlight import Highlighter, query_stems
from service.search.query_language import parse_query
from service.search.result_cache import normalized_query

router = APIRouter(prefix="/api/v1", tags=["search"])

QUERY_HELP = """Search titles, authors, keywords and abstracts — by words or by meaning.

Query language: bare words (all required up to three words; ranked by relevance beyond),
`"exact phrase"`, `-excluded`, `a OR b`, field prefixes `ti:` `au:` `abs:` (e.g. `au:hinton`,
`ti:"graph neural"`), filters `cat:cs.LG` `venue:iclr` `year:2024` `year:2019..2021`, and
`id:2503.11731` or a pasted arXiv / OpenReview URL (that paper first). An empty query browses
the filtered papers, newest first. Natural text is always answered, up to 10,000 characters: a
pasted abstract is searched by its most informative terms and its meaning, a quote left open is
text, and in a sentence of 12 words or more quotes, OR and minus signs only rank. Only an operator
used wrongly (`year:abc`) or a longer text gets a 400 that says what to change. A query mostly
in another script (Chinese, Russian, ...) is searched by its English translation when a language
model is configured (`searched_for` says what was searched; `translate=false` searches the text
as typed)."""


@router.get("/search", response_model=SearchResponse, description=QUERY_HELP)
def search(
    request: Request,
    q: Annotated[str, Query(description="the query (see the query language above)",
                            examples=["graph neural networks for molecules", '"attention is all you need"',
                                      "au:lecun cat:cs.LG year:2019..2021"])] = "",
    source: Annotated[str | None, Query(description="arxiv or venue")] = None,
    category: Annotated[list[str] | None, Query(description="arXiv category, repeatable (any of)")] = None,
    venue: Annotated[list[str] | None, Query(description="venue slug such as neurips, repeatable")] = None,
    track: Annotated[list[str] | None, Query(description="oral, spotlight, poster, ... repeatable")] = None,
    year_from: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    year_to: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    date_from: Annotated[date | None, Query(description="published on or after (YYYY-MM-DD)")] = None,
    date_to: Annotated[date | None, Query(description="published on or before (YYYY-MM-DD)")] = None,
    sort: Annotated[str, Query(description="relevance or newest")] = "relevance",
    mode: Annotated[str, Query(description="hybrid, keyword or semantic")] = "hybrid",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=999)] = 0,
    explain: Annotated[bool, Query(description="say why each result ranked")] = False,
    translate: Annotated[bool, Query(description="search a query mostly in another script by its "
                                     "English translation (when a language model is configured)")] = True,
) -> SearchResponse:
    """Ranked papers with highlights and facets."""
    return _answer(request, SearchBody.model_construct(  # validated above, field by field
        q=q, source=source, category=category, venue=venue, track=track, year_from=year_from, year_to=year_to,
        date_from=date_from, date_to=date_to, sort=sort, mode=mode, limit=limit, offset=offset, explain=explain,
        translate=translate))


@router.post("/search", response_model=SearchResponse,
             description="The same search with its parameters as a JSON body, for a text too long for a URL.")
def search_by_body(request: Request, body: SearchBody) -> SearchResponse:
    """Ranked papers with highlights and facets, the query given in the body."""
    return _answer(request, body)


def _answer(request: Request, body: SearchBody) -> Response:
    """One search for either route, serialized straight from the response model (no second
    validation pass)."""
    filters = make_filters(source=body.source, category=body.category, venue=body.venue, track=body.track,
                           year_from=body.year_from, year_to=body.year_to, date_from=body.date_from,
                           date_to=body.date_to)
    response, text = _search(request.app.state.search, q=body.q, filters=filters, mode=body.mode,
                             sort=body.sort, limit=body.limit, offset=body.offset, explain=body.explain,
                             translate=body.translate)
    return Response(content=text or response.model_dump_json(), media_type="application/json")


def run_search(runtime, *, q: str, filters, mode: str = "hybrid", sort: str = "relevance",
               limit: int = 20, offset: int = 0, explain: bool = False, translate: bool = True) -> SearchResponse:
    """One search, rendered as the API's response (the web pages use it too). A query mostly in
    another script is searched by its English translation when `translate` (and a language model)
    allows. Answers are cached per worker for the loaded generations, except for queries that ask
    for papers by id (those may fetch a paper on demand and say so)."""
    return _search(runtime, q=q, filters=filters, mode=mode, sort=sort, limit=limit, offset=offset,
                   explain=explain, translate=translate)[0]


def _search(runtime, *, q: str, filters, mode: str, sort: str, limit: int, offset: int, explain: bool,
            translate: bool) -> tuple[SearchResponse, str | None]:
    """run_search's answer, and its JSON when a new answer was cached (so the API sends the text
    it made for the cache instead of serializing the answer twice)."""
    started = time.perf_counter()
    translation = translate_query(runtime.settings, runtime.db, q) if translate else None
    translation = translation or Translation(None)
    searched = translation.phrase or q
    engine, notices = runtime.engine()
    notices += [translation.notice] if translation.notice else []
    asked = _asked_ids(searched)
    key = None
    if not asked:
        key = (normalized_query(q), translation.phrase, translation.notice, filters, mode, sort, limit, offset,
               explain, engine.generations)
        cached = runtime.results.get(key)
        if cached is not None:
            took = round((time.perf_counter() - started) * 1000, 2)
            return SearchResponse.model_validate_json(cached).model_copy(
                update={"query": q, "took_ms": took, "timings_ms": {"cached": took}}), None
    if runtime.fetcher is not None and asked:
        notices += runtime.fetcher.fetch(runtime.db, asked)
    with runtime.compute:  # one search computes at a time in a worker: no GIL ping-pong between them
        outcome = engine.search(
            SearchRequest(q=searched, filters=filters, mode=mode, sort=sort, limit=limit, offset=offset),
            resolve_ids=lambda public_ids: _resolve(runtime.reads, public_ids),
        )
        fetch_started = time.perf_counter()
        results = render_results(runtime.reads, outcome, explain=explain)
        outcome.timings["fetch"] = round((time.perf_counter() - fetch_started) * 1000, 3)
    if runtime.on_timings:
        runtime.on_timings(outcome.timings)
    if outcome.browse or mode == "keyword":
        notices = [n for n in notices if not n.startswith("semantic")]
    response = SearchResponse(
        query=q, searched_for=translation.phrase, mode=mode, sort=sort, total=outcome.total, offset=offset,
        limit=limit, results=results,
        facets=Facets(**outcome.facets), took_ms=round((time.perf_counter() - started) * 1000, 2),
        timings_ms=outcome.timings, notices=notices + outcome.notices,
    )
    if key is None:
        return response, None
    text = response.model_dump_json()
    runtime.results.put(key, text)  # text: nothing for the cycle collector to walk
    return response, text


def _asked_ids(q: str) -> list[str]:
    """The public ids a query asks for by id (none when it does not parse: the search says why)."""
    try:
        return parse_query(q).ids
    except InvalidQuery:
        return []


def _resolve(reads: ReadPool, public_ids: list[str]) -> dict[str, int]:
    """Catalog ids of the papers named by public id (an arXiv preprint with a venue twin is
    found as the pair's entry, the venue paper)."""
    rows = reads.rows("SELECT public_id, id, source, twin_id FROM papers "
                      "WHERE public_id = ANY(%s::text[]) AND is_published", (public_ids,))
    return {public_id: twin_id if source == "arxiv" and twin_id else paper_id
            for public_id, paper_id, source, twin_id in rows}


def render_results(reads: ReadPool, outcome: SearchOutcome, *, explain: bool) -> list[SearchResult]:
    """The page's papers in rank order, with highlights (and explanations): one lean read of the
    shown fields, highlights only of what is shown."""
    cards = load_cards(reads, [r.id for r in outcome.results])
    shown = [(ranked, cards[ranked.id]) for ranked in outcome.results
             if ranked.id in cards and cards[ranked.id].is_published]  # else removed since the catalog was built
    marker = Highlighter(query_stems(outcome.parsed.terms))
    results = []
    for ranked, card in shown:
        title, title_words = marker.marked(card.title)
        abstract, abstract_words = marker.marked(card.abstract)
        results.append(SearchResult(
            id=card.public_id, title=card.title, authors=card.authors, abstract=card.abstract,
            categories=card.all_categories(), venue=card.venue, track=card.track,
            year=card.display_year(), published=card.first_date(), links=card.links,
            twin=card.twin_public(), score=ranked.score,
            highlights=Highlights(title=title, abstract=abstract),
            explain=_explain(ranked, card, marker, title_words, abstract_words) if explain else None,
        ))
    return results


def _explain(ranked: RankedPaper, paper: Card, marker: Highlighter, title_words: list[str],
             abstract_words: list[str]) -> Explanation:
    matched = {"title": title_words, "abstract": abstract_words}
    author_terms = [a for a in paper.authors if marker.matches(a)]
    if author_terms:
        matched["authors"] = author_terms
    parts = []
    if ranked.pinned == "id":
        parts.append("the paper you asked for by id")
    elif ranked.pinned == "exact title":
        parts.append("exact title match")
    words = [f"{field}: {', '.join(terms)}" for field, terms in matched.items() if terms]
    if "lexical" in ranked.ranks:
        parts.append(f"keyword match #{ranked.ranks['lexical']}" + (f" ({'; '.join(words)})" if words else ""))
    if "title" in ranked.ranks:
        parts.append(f"title match allowing typos #{ranked.ranks['title']}")
    if "semantic" in ranked.ranks:
        parts.append(f"close in meaning #{ranked.ranks['semantic']}")
    if not parts:
        parts.append("newest first among the filtered papers")
    return Explanation(
        summary=" · ".join(parts), pinned=ranked.pinned, lexical_rank=ranked.ranks.get("lexical"),
        semantic_rank=ranked.ranks.get("semantic"), title_rank=ranked.ranks.get("title"),
        fused_score=ranked.score, matched=matched,
    )
