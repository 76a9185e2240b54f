"""Paper FAQ and abstract translation through any OpenAI-compatible chat-completions endpoint.

prompts.py (the versioned prompts and the languages) · client.py (the `openai` client, errors in
our words) · fulltext.py (a paper's PDF as text) · store.py (paper_generations: stored answers and
claims) · budget.py (the daily budget) · generate.py (one generation, streamed or not) ·
query_translation.py (a search query in another script as an English search phrase, stored).
Nothing here imports FastAPI; the service (service/api/llm.py, service/api/search.py) and
`papersift faq` call it.
"""
