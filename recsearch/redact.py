"""Masking of passwords in storage URLs, before any text reaches a file, a table or the terminal."""

from __future__ import annotations

import re

_PASSWORD = re.compile(r"(://[^:/@\s'\"]+:)[^@\s'\"]+@")


def redact(text: str) -> str:
    """`text` with the password of any URL in it replaced by *** (user:secret@host -> user:***@host)."""
    return _PASSWORD.sub(r"\1***@", text)
