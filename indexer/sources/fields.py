"""Typed field access for source mappings: a wrong type or invalid text raises BadField with a reason."""

from __future__ import annotations

from typing import Any


class BadField(ValueError):
    """A record field that cannot be used; the message is the reject reason."""


def text_field(record: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A string field with NULs removed; None when absent, null or blank (unless required)."""
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadField(f"missing {key}")
        return None
    if not isinstance(value, str):
        raise BadField(f"field {key!r} must be a string, got {type(value).__name__}")
    return valid_text(value, key)


def id_field(record: dict[str, Any], key: str) -> str | None:
    """An identifier: a non-blank string or an integer."""
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text_field(record, key)


def list_field(record: dict[str, Any], key: str) -> list[Any]:
    """A list field; absent or null is empty."""
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadField(f"field {key!r} must be a list, got {type(value).__name__}")
    return value


def valid_text(value: str, key: str) -> str:
    """Refuse text with lone surrogates (invalid UTF-8 in the input); drop NUL characters."""
    if not value.isascii():  # ASCII holds no surrogates
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise BadField(f"field {key!r} is not valid UTF-8 (at character {error.start})") from None
    return value.replace("\x00", "") if "\x00" in value else value
