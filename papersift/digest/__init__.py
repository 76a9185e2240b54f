"""The digest: each subscriber's new papers of a period, ranked for them, in one mail.

periods.py (which day or week) → selection.py (the period's papers, those of each subscription)
→ ranking.py (a linear model per reader from their library) → compose.py (text and HTML)
→ sends.py (the digest_sends rows that make it one mail per reader per period) → run.py.
"""
