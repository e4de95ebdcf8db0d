"""Mask passwords in anything that may hold a database URL, before it is printed or written."""

from __future__ import annotations

import re

# scheme://user:password@ inside longer text (a URL in an error message, a YAML dump, an override)
_EMBEDDED = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*:)(?P<password>[^\s'\"]*)@")
# a password given as a query parameter (libpq's `?password=`, some drivers' `passwd`, `pwd`)
_QUERY = re.compile(r"(?P<head>[?&](?:password|passwd|pwd|sslpassword)=)[^&#\s'\"]*?(?=:?(?:[&#\s'\"]|$))",
                    re.IGNORECASE)  # the value ends before a separator, a quote or whitespace (or ': ' in a message)
# a password inside an ODBC connection string (`?odbc_connect=DRIVER%3D...%3BPWD%3Dsecret%3B...`, raw or escaped)
# The value: {braced} (`}}` escapes a brace), %7Bescaped%7D, or anything up to `;`, `%3B`, `&`, `#`, a quote, `: `
# (a message goes on) or the end; spaces included (a raw value may hold them).
_ODBC = re.compile(r"(?P<head>(?:^|[;=]|%3B|%3D)(?:pwd|password|sslpassword)(?:=|%3D))"
                   r"(?:\{(?:[^}]|\}\})*\}|%7B(?:(?!%7D)[^&#\s])*%7D|(?:(?!%3B|: )[^;&#'\"\n])*)", re.IGNORECASE)
MASK = "***"
# What a hint's example URL holds (`postgresql://user:PASSWORD@host/db`): kept, so the hint can be copied (a real
# password that is literally PASSWORD is shown too, which hides nothing anyone would guess first).
PLACEHOLDER = "PASSWORD"


def redact(text: str) -> str:
    """`text` with the password of every URL in it masked: `postgresql://u:secret@h/db` -> `postgresql://u:***@h/db`,
    `postgresql://u@h/db?password=secret` -> `postgresql://u@h/db?password=***`.

    A whole URL goes through SQLAlchemy's `make_url(...).render_as_string(hide_password=True)`; URLs inside
    longer text (or that SQLAlchemy cannot parse) are masked by pattern. Example: `redact(cfg.search.storage)`.
    """
    text = str(text)
    if "://" not in text:
        return text
    whole = _render_hidden(text.strip())
    masked = whole if whole is not None else _EMBEDDED.sub(
        lambda m: m[0] if m["password"] == PLACEHOLDER else f"{m['head']}{MASK}@", text)
    masked = _QUERY.sub(lambda m: f"{m['head']}{MASK}", masked)
    return _ODBC.sub(lambda m: f"{m['head']}{MASK}", masked) if "odbc_connect" in masked.lower() else masked


def _render_hidden(url: str) -> str | None:
    """SQLAlchemy's rendering of a single URL with its password hidden, or None if `url` is not one URL."""
    if any(ch.isspace() for ch in url):
        return None
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - ArgumentError, ValueError: not a URL SQLAlchemy understands
        return None
    if "@" in (parsed.host or ""):  # an unescaped '@' in the password: SQLAlchemy splits it at the first one
        return None
    if parsed.password in (None, PLACEHOLDER):
        return url
    return parsed.render_as_string(hide_password=True)
