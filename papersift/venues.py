"""Conference series and tracks: canonical slugs, display names, and status → track mapping (pure)."""

from __future__ import annotations

import re

# slug → display name. Paperlists' folder names map onto slugs through VENUE_ALIASES.
VENUE_NAMES = {
    "3dv": "3DV",
    "aaai": "AAAI",
    "acl": "ACL",
    "acml": "ACML",
    "aistats": "AISTATS",
    "alt": "ALT",
    "automl": "AutoML",
    "coling": "COLING",
    "colm": "COLM",
    "colt": "COLT",
    "corl": "CoRL",
    "cvpr": "CVPR",
    "eccv": "ECCV",
    "emnlp": "EMNLP",
    "iccv": "ICCV",
    "iclr": "ICLR",
    "icml": "ICML",
    "icra": "ICRA",
    "ijcai": "IJCAI",
    "iros": "IROS",
    "kdd": "KDD",
    "naacl": "NAACL",
    "neurips": "NeurIPS",
    "rss": "RSS",
    "uai": "UAI",
    "wacv": "WACV",
    "www": "WWW",
}
VENUE_ALIASES = {"nips": "neurips"}

# Normalized tracks. Anything else keeps its own slug ("industry", "system demonstrations" ...).
TRACK_SYNONYMS = {
    "oral": "oral",
    "accept (oral)": "oral",
    "notable-top-5%": "oral",
    "spotlight": "spotlight",
    "accept (spotlight)": "spotlight",
    "notable-top-25%": "spotlight",
    "poster": "poster",
    "accept (poster)": "poster",
    "accept": "poster",
    "long": "long",
    "short": "short",
    "findings": "findings",
    "main": "main",
    "technical": "main",
}
# Statuses of submissions that are not published papers: stored, hidden by default.
UNPUBLISHED_STATUSES = {"reject", "rejected", "desk reject", "desk rejected"}


def canonical_venue(slug: str) -> str:
    """The canonical slug for a folder name or alias: `nips` → `neurips`."""
    lowered = slug.strip().lower()
    return VENUE_ALIASES.get(lowered, lowered)


def venue_display_name(slug: str) -> str:
    """`neurips` → `NeurIPS`; unknown slugs are upper-cased."""
    return VENUE_NAMES.get(canonical_venue(slug), slug.upper())


def venue_year_from_filename(name: str) -> tuple[str, int] | None:
    """`nips2019.json.gz` → ("neurips", 2019); None when the name carries no venue and year."""
    stem = name.split(".", 1)[0]
    match = re.fullmatch(r"([a-z0-9]+?)(\d{4})", stem.lower())
    if not match:
        return None
    return canonical_venue(match.group(1)), int(match.group(2))


def track_from_status(status: str | None) -> tuple[str | None, bool]:
    """(normalized track, is_published) for a venue record's status."""
    if not status or not status.strip():
        return None, True
    key = status.strip().lower()
    if key.startswith("withdraw"):
        return "withdrawn", False
    if key in UNPUBLISHED_STATUSES or key.startswith(("reject", "desk reject")):
        return "rejected", False
    if key in TRACK_SYNONYMS:
        return TRACK_SYNONYMS[key], True
    return re.sub(r"\s+", " ", key), True
