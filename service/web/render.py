"""Jinja2 rendering: the template environment, LaTeX math → MathML (server-side, no CDN), BibTeX."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

from fastapi.templating import Jinja2Templates
from markupsafe import Markup



def _reader(request) -> dict:
    """Every page knows the signed-in reader (None when signed out) and the session's CSRF token."""
    from service.accounts.csrf import csrf_token
    from service.accounts.sessions import COOKIE, account_for

    signed_in = COOKIE in request.cookies or hasattr(request.state, "account")
    return {"account": account_for(request) if signed_in else None, "csrf_token": csrf_token(request)}


TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"),
                            context_processors=[_reader])
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.DOTALL)


def math_html(escaped: str) -> Markup:
    """HTML-escaped text (possibly with <mark>s) with its `$...$` segments rendered as MathML.
    A segment that a highlight cut through, or that cannot be converted, stays as text."""
    if "$" not in escaped:
        return Markup(escaped)

    def convert(match: re.Match) -> str:
        source = match.group(1) or match.group(2)
        if "<mark>" in source or "</mark>" in source:
            return match.group(0)
        return _mathml(source, bool(match.group(1))) or match.group(0)

    return Markup(_MATH.sub(convert, escaped))


@lru_cache(maxsize=8192)
def _mathml(escaped_source: str, block: bool) -> str | None:
    """MathML of one escaped LaTeX segment (None when the converter cannot read it); a paper's
    formulas are converted once, not on every page that shows them."""
    import latex2mathml.converter

    try:
        return latex2mathml.converter.convert(html.unescape(escaped_source), display="block" if block else "inline")
    except Exception:  # noqa: BLE001 - any LaTeX the converter cannot read stays as text
        return None


def text_with_math(text: str) -> Markup:
    """Plain text → escaped HTML with math rendered."""
    return math_html(html.escape(text or ""))


def bibtex(paper) -> str:
    """A BibTeX entry: @inproceedings for venue papers, @misc with eprint fields for arXiv."""
    year = paper.year or (paper.published.year if paper.published else "")
    first_author = (paper.authors[0].split()[-1] if paper.authors else "anon").lower()
    first_word = next((w for w in re.findall(r"[A-Za-z]+", paper.title) if len(w) > 3), "paper").lower()
    key = re.sub(r"[^a-z0-9]", "", f"{first_author}{year}{first_word}")
    fields = {"title": "{" + paper.title + "}", "author": " and ".join(paper.authors), "year": str(year)}
    if paper.source == "arxiv":
        entry = "misc"
        arxiv_id = paper.id.removeprefix("arxiv:")
        fields |= {"eprint": arxiv_id, "archivePrefix": "arXiv",
                   "primaryClass": paper.primary_category or "", "url": f"https://arxiv.org/abs/{arxiv_id}"}
    else:
        entry = "inproceedings"
        fields |= {"booktitle": paper.venue or "", "url": paper.links.get("abstract") or paper.links.get("site") or ""}
    body = ",\n".join(f"  {name} = {{{value}}}" if not value.startswith("{") else f"  {name} = {value}"
                      for name, value in fields.items() if value)
    return f"@{entry}{{{key},\n{body}\n}}"


# Every page advertises the site's newest papers to feed readers (pages with their own feed link
# theirs instead; the home page adds its categories').
TEMPLATES.env.globals["site_feeds"] = [{"title": "papersift: newest papers", "href": "/feeds/search.atom"}]
TEMPLATES.env.filters["math"] = math_html
TEMPLATES.env.filters["text_math"] = text_with_math
