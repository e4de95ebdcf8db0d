"""User-facing errors: the CLI prints them as one line and exits non-zero, with no traceback."""

from __future__ import annotations


class RecsearchError(Exception):
    """An error caused by the user's input (config, data, command line), not by a bug."""

    exit_code = 2


class ConfigError(RecsearchError):
    """A config key is unknown, has the wrong type, or an override is malformed."""


class DataError(RecsearchError):
    """A data file is missing, malformed or fails its checksum."""


class SearchSpaceError(ConfigError):
    """A search-space expression is malformed or does not fit the config."""
