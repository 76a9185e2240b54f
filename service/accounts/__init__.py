"""Readers' accounts: passwordless sign-in by an emailed link, server-side sessions, CSRF
protection, and the library kept in PostgreSQL."""
