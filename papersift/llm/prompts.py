"""Every prompt papersift sends to a language model, versioned.

A stored answer records the version of the prompt that made it. Change a prompt's wording and raise
its `version`: stored answers of older versions are no longer served, and each is generated again
the next time a reader (or `papersift faq generate`) asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Translation targets, Chinese first (Cool Papers' readers); code → name the model is asked for.
LANGUAGES: dict[str, str] = {
    "zh": "Simplified Chinese",
    "en": "English",
    "ja": "Japanese",
    "ko": "Korean",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "ru": "Russian",
    "pt": "Portuguese",
}
# What the page's language menu shows.
LANGUAGE_LABELS: dict[str, str] = {
    "zh": "中文", "en": "English", "ja": "日本語", "ko": "한국어", "fr": "Français",
    "de": "Deutsch", "es": "Español", "ru": "Русский", "pt": "Português",
}
FAQ_LANGUAGE = "en"  # FAQs are written in English, the language of nearly every paper indexed


@dataclass(frozen=True)
class Prompt:
    kind: str
    version: int
    system: str
    user: str  # a str.format template: {title}, {authors}, {abstract}, {full_text}, {language}; {query}


FAQ = Prompt(
    kind="faq",
    version=1,
    system=(
        "You are a careful research assistant. You read one scientific paper and answer the "
        "questions a reader asks first, using only the paper's text given to you. When the text "
        "does not say, write that the paper does not say; never invent numbers, datasets or claims."
    ),
    user=(
        "Title: {title}\n"
        "Authors: {authors}\n\n"
        "Abstract:\n{abstract}\n\n"
        "{full_text}"
        "Write a short FAQ about this paper in Markdown. Answer these questions, in this order, each "
        "as a line `**Q: <question>**` followed by the answer in one to three short paragraphs or a "
        "list of `- ` items:\n"
        "1. What problem does the paper address, and why does it matter?\n"
        "2. What is the method or approach, and what is new about it?\n"
        "3. What are the main results (with the numbers the paper reports)?\n"
        "4. What are the limitations, or what does the paper leave open?\n"
        "Then add up to two more questions a reader of this particular paper would ask, in the same "
        "format. Use plain Markdown only: no HTML, no tables, no headings."
    ),
)

TRANSLATION = Prompt(
    kind="translation",
    version=1,
    system=(
        "You translate the abstracts of scientific papers. You keep technical terms precise, keep "
        "LaTeX math ($...$) and names of methods, datasets and people as they are, and output only "
        "the translation."
    ),
    user="Translate this abstract into {language}.\n\n{abstract}",
)

# A search query mostly in another script, made an English search phrase (query_translation.py);
# not a paper generation, so not in PROMPTS.
QUERY_TRANSLATION = Prompt(
    kind="query",
    version=1,
    system=(
        "You turn search queries written in any language into short English search phrases for a "
        "search engine of computer-science papers. Keep acronyms, names of methods, models and "
        "datasets, terms already in Latin letters and numbers exactly as they are. Answer with the "
        "English search phrase only: no quotes, no explanation."
    ),
    user="Search query: {query}",
)

PROMPTS: dict[str, Prompt] = {FAQ.kind: FAQ, TRANSLATION.kind: TRANSLATION}
FULL_TEXT_HEADER = "Full text (extracted from the PDF{cut}):\n"


def current_prompt(kind: str) -> Prompt:
    """The prompt now in use for `kind` ("faq" or "translation")."""
    return PROMPTS[kind]


def build_messages(prompt: Prompt, *, title: str, authors: list[str], abstract: str,
                   full_text: str = "", cut: bool = False, language: str = FAQ_LANGUAGE) -> list[dict]:
    """The chat messages for one paper. `full_text` is given already cut to fit the context."""
    body = ""
    if full_text:
        body = FULL_TEXT_HEADER.format(cut=", cut to fit" if cut else "") + full_text.strip() + "\n\n"
    user = prompt.user.format(title=title, authors=", ".join(authors[:30]) or "unknown",
                              abstract=abstract.strip() or "(no abstract)", full_text=body,
                              language=LANGUAGES[language])
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]
