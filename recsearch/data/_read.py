"""Strict table readers: fast pandas parsing, and one-line DataErrors that name file, line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsearch.errors import DataError

# Column kinds accepted by `read_table`: "int" (int64), "float" (float64), "str", "id" (int64 if
# every value is an integer, else str).
_DTYPES = {"int": "int64", "float": "float64", "str": str, "id": None}


def require_file(path: Path, hint: str) -> Path:
    """Return `path` if it is a non-empty file, else raise a DataError ending with `hint`."""
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a ratings file: {hint}")
    if not path.is_file():
        raise DataError(f"{path} not found: {hint}")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    return path


def first_line(path: Path, encoding: str = "utf-8") -> str:
    """The file's first line, without its line ending."""
    with open(path, "rb") as fh:
        return fh.readline().decode(encoding, errors="replace").rstrip("\r\n")


def read_table(
    path: Path,
    *,
    sep: str,
    columns: dict[str, str],
    header: bool,
    positions: list[int] | None = None,
    n_fields: int | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read `columns` (name -> kind) from a delimited file, by header name or by `positions`."""
    names = list(columns)
    if header:
        _check_header(path, sep, names, encoding)
        usecols: list = names
    else:
        _check_field_count(path, sep, n_fields or len(names), encoding)
        usecols = positions if positions is not None else list(range(len(names)))
    dtype = {k: _DTYPES[v] for k, v in zip(usecols, columns.values()) if _DTYPES[v] is not None}
    try:
        frame = pd.read_csv(
            path, sep=sep, header=0 if header else None, usecols=usecols, dtype=dtype,
            encoding=encoding, engine="c", na_filter=_has_numeric(columns),
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        _diagnose(path, sep=sep, columns=columns, header=header, usecols=usecols, encoding=encoding)
        raise DataError(f"{path}: cannot be parsed ({_first_line_of(exc)})") from None
    if not header:
        frame.columns = names
    frame = frame[names]
    for name, kind in columns.items():
        if kind == "id":
            frame[name] = normalize_ids(frame[name])
        elif kind == "str":
            frame[name] = frame[name].fillna("")
        elif kind == "float" and frame[name].isna().any():
            _diagnose(path, sep=sep, columns=columns, header=header, usecols=usecols, encoding=encoding)
    if frame.empty:
        raise DataError(f"{path} has no data rows")
    return frame


def normalize_ids(values: pd.Series) -> pd.Series:
    """Ids as int64 when every value is an integer, else as str."""
    if pd.api.types.is_integer_dtype(values):
        return values.astype("int64")
    as_num = pd.to_numeric(values, errors="coerce")
    if as_num.notna().all() and (as_num % 1 == 0).all():
        return as_num.astype("int64")
    return values.astype(str)


def check_numeric(values: pd.Series, path: Path, column: str, line_offset: int, what: str = "line") -> None:
    """Raise a DataError naming the first row of `values` that is not a number."""
    coerced = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(coerced.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{path}: {what} {row + line_offset}, column '{column}': expected a number, "
            f"got {str(values.iloc[row])!r}"
        )


def check_range(values: np.ndarray, scale: tuple[float, float], path: Path, column: str, line_offset: int) -> None:
    """Raise a DataError naming the first value outside the rating scale."""
    lo, hi = scale
    bad = np.flatnonzero((values < lo) | (values > hi))
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{path}: line {row + line_offset}, column '{column}': rating {values[row]:g} is outside "
            f"the rating scale [{lo:g}, {hi:g}] (set data.rating_scale)"
        )


def _has_numeric(columns: dict[str, str]) -> bool:
    return any(kind in ("int", "float") for kind in columns.values())


def _check_header(path: Path, sep: str, names: list[str], encoding: str) -> None:
    """Raise a DataError if the header does not split on `sep` or lacks a column."""
    line = first_line(path, encoding)
    fields = [f.strip().strip('"') for f in line.split(sep)]
    if len(fields) < 2 and len(names) > 1:
        raise DataError(
            f"{path}: the header {line[:80]!r} does not split into columns with separator {sep!r} "
            f"(wrong separator? set data.sep)"
        )
    missing = [n for n in names if n not in fields]
    if missing:
        raise DataError(f"{path}: missing column '{missing[0]}' (the header has: {', '.join(fields)})")


def _check_field_count(path: Path, sep: str, n_fields: int, encoding: str) -> None:
    """Raise a DataError if the first line does not split into `n_fields` fields on `sep`."""
    line = first_line(path, encoding)
    found = len(line.split(sep))
    if found != n_fields:
        raise DataError(
            f"{path}: line 1 has {found} field(s) with separator {sep!r}, expected {n_fields} "
            f"(wrong separator or wrong file?)"
        )


def _diagnose(path: Path, *, sep: str, columns: dict[str, str], header: bool, usecols: list, encoding: str) -> None:
    """Re-read `path` as text and raise a DataError for the first malformed value, if any."""
    try:
        raw = pd.read_csv(
            path, sep=sep, header=0 if header else None, usecols=usecols, dtype=str,
            keep_default_na=False, skip_blank_lines=False, encoding=encoding, engine="c",
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: malformed row ({_first_line_of(exc)})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid {encoding} text ({exc.reason} at byte {exc.start})") from None
    offset = 2 if header else 1
    for key, (name, kind) in zip(usecols, columns.items()):
        if kind in ("int", "float"):
            check_numeric(raw[key], path, name, offset)


def _first_line_of(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
