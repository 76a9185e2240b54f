"""Harvesters: live sources fetched page by page, each page written with the cursor after it.

| command                        | module          | source                                      |
|--------------------------------|-----------------|---------------------------------------------|
| `papersift harvest arxiv`      | arxiv_api.py    | the arXiv API through the `arxiv` package   |
| `papersift harvest arxiv-oai`  | arxiv_oai.py    | arXiv OAI-PMH (metadataPrefix=arXiv)        |
| `papersift harvest openreview` | openreview.py   | OpenReview API v2 through `openreview-py`   |
| `papersift harvest paperlists` | paperlists_url.py | a remote paperlists JSON file             |

`runner.py` drives any of them; `http.py` makes the polite, retrying HTTP session they share.
"""
