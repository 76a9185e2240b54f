"""Readers' subscriptions: rules.py checks and normalises what a reader asks for, store.py keeps
it. The JSON API (service/api/subscriptions.py) and the account page's forms
(service/web/subscriptions.py) both go through them."""
