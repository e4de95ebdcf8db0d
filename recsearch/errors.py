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


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system failure: what failed, on which path, and what to do about it."""
    import errno

    path = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    reason = (exc.strerror or str(exc) or type(exc).__name__).splitlines()[0]
    advice = {
        errno.EACCES: "make it writable or point paths.results_dir / paths.cache_dir (RECSEARCH_RESULTS_DIR, "
                      "RECSEARCH_CACHE_DIR) at a folder you can write",
        errno.EROFS: "the file system is read-only: point paths.results_dir / paths.cache_dir (RECSEARCH_RESULTS_DIR, "
                     "RECSEARCH_CACHE_DIR) at a writable folder",
        errno.ENOSPC: "free some space, then run the same command again: finished trials are kept",
        errno.EDQUOT: "free some space (disk quota exceeded), then run the same command again",
        errno.ENOENT: "check the path",
        errno.EISDIR: "give a file, not a directory",
        errno.ENOTDIR: "a part of the path is a file where a folder is needed; check the path",
        errno.EEXIST: "a file is in the way; move it or choose another path",
    }
    advice[errno.EPERM] = advice[errno.EACCES]
    hint = advice.get(exc.errno or -1, "check the path and its permissions")
    return f"{path}: {reason.lower()} ({hint})" if path else f"{reason.lower()} ({hint})"


def describe_yaml_error(exc: Exception) -> str:
    """One line for a YAML syntax error in a user's file (a search space, model option, experiment): the file,
    the line and PyYAML's reason, instead of the parser's multi-line trace."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{mark.name} line {mark.line + 1}" if mark is not None else "a YAML file"
    reason = " ".join(str(getattr(exc, "problem", None) or exc).split())
    context, at = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and at is not None:
        reason += f" ({' '.join(context.split())} at line {at.line + 1})"
    return f"{where}: not valid YAML: {reason}; fix the file there"


def os_error_in(exc: BaseException) -> OSError | None:
    """The OSError that `exc` is or was raised from (libraries often wrap them), else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
