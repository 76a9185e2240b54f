"""Every source papersift reads, one module per format, each yielding PaperRecord | Reject (and,
for the importer, RawRecord | Reject: records mapped only when their input changed).

| name            | module             | what it reads                                              |
|-----------------|--------------------|------------------------------------------------------------|
| arxiv-snapshot  | arxiv_snapshot.py  | the arXiv metadata snapshot (Kaggle JSON lines, .gz too)   |
| paperlists      | paperlists.py      | conference lists in the paperlists format (JSON arrays)    |
"""

from __future__ import annotations

SOURCES = {
    "arxiv-snapshot": "the arXiv metadata snapshot (Kaggle JSON lines, plain or .gz)",
    "paperlists": "conference paper lists in the paperlists format (JSON arrays, plain or .gz)",
}
