"""Strict table readers: fast pandas parsing, and one-line DataErrors that name file, line and column."""

from __future__ import annotations

import lzma
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsearch.errors import DataError

try:
    from pandas._libs.parsers import STR_NA_VALUES  # pandas' default missing-value markers ("NA", "null", ...)
except ImportError:  # a private name: the markers read_csv documents
    STR_NA_VALUES = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}

# Column kinds accepted by `read_table`: "int" (int64), "float" (float64), "str", "id" (int64 if
# every value is an integer, else str), "time" (int64 Unix time from integers or dates: `unix_times`).
_DTYPES = {"int": "int64", "float": "float64", "str": str, "id": None, "time": None}


def require_file(path: Path, hint: str) -> Path:
    """Return `path` if it is a non-empty file, else raise a DataError ending with `hint`."""
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a ratings file: {hint}")
    if not path.is_file():
        raise DataError(f"{path} not found: {hint}")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    return path


COMPRESSED = (".gz", ".bz2", ".xz", ".zip")  # suffixes pandas decompresses (a .zip of one file), as read here
UNREADABLE_ARCHIVE = (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, zlib.error)  # gzip's, xz's, zip's errors
UNREADABLE_MEMBER = (*UNREADABLE_ARCHIVE, RuntimeError, NotImplementedError)  # and an encrypted or deflate64 member


def open_bytes(path: Path) -> Any:
    """`path` opened for reading its bytes, decompressed for COMPRESSED suffixes as pandas reads them."""
    import bz2
    import gzip

    def unzipped(name: Path, mode: str) -> Any:
        archive = zipfile.ZipFile(name)
        members = archive.namelist()
        if len(members) != 1:  # pandas reads a .zip of exactly one file
            raise zipfile.BadZipFile(f"it holds {len(members)} files, not one")
        return archive.open(members[0])

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".zip": unzipped}.get(Path(path).suffix.lower(),
                                                                                       open)
    return opener(path, "rb")


def first_line(path: Path, encoding: str = "utf-8") -> str:
    """The file's first line (decompressed for COMPRESSED suffixes, as pandas reads them), without its line
    ending or a UTF-8 byte-order mark (pandas skips one too)."""
    try:
        with open_bytes(path) as fh:
            line = fh.readline()
    except UNREADABLE_MEMBER as exc:
        raise not_decompressed(path, exc) from None
    return line.decode(encoding, errors="replace").rstrip("\r\n").removeprefix("\ufeff")


def not_decompressed(path: Path, exc: BaseException) -> BaseException:
    """The DataError for a COMPRESSED file that does not decompress; `exc` itself for any other file or error
    (a file that cannot be opened at all)."""
    if Path(path).suffix.lower() not in COMPRESSED or isinstance(exc, (PermissionError, FileNotFoundError,
                                                                           IsADirectoryError)):
        return exc
    if isinstance(exc, EOFError):  # the stream ends before its end marker
        return DataError(f"{path}: cannot be decompressed: it ends too early ({exc}); a truncated copy or download? "
                         "copy or fetch it again")
    return DataError(f"{path}: cannot be decompressed ({exc}); is it a {Path(path).suffix} file? (the file name's "
                     "last suffix says how it is read)")


def not_text(path: Path, encoding: str, exc: UnicodeDecodeError) -> DataError:
    """The DataError for a file that is not valid `encoding` text, at the line and byte of its first bad byte
    (the offset a decode error gives is within whatever chunk pandas was decoding)."""
    where = f"byte {exc.start} of a chunk"
    try:
        with open_bytes(path) as fh:
            offset = 0
            for number, line in enumerate(fh, start=1):
                try:
                    line.decode(encoding)
                except UnicodeDecodeError as bad:
                    where = f"line {number}, byte {offset + bad.start} of the file"
                    break
                offset += len(line)
    except (*UNREADABLE_MEMBER, LookupError):  # no better place to name than the chunk's
        pass
    misnamed = misnamed_file(path)
    return misnamed or DataError(f"{path}: not valid {encoding} text ({exc.reason} at {where}); save it as {encoding}")


MAGIC_BYTES = {b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip", b"PAR1": "Parquet"}
BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")  # bzip2's header and first block: "BZh" alone starts text too
KIND_SUFFIXES = {"gzip": (".gz",), "bzip2": (".bz2",), "xz": (".xz",), "zip": (".zip",),
                 "Parquet": (".parquet", ".pq")}


def misnamed_file(path: Path) -> DataError | None:
    """The error for a compressed or Parquet file (by its first bytes) whose name's last suffix says otherwise,
    e.g. a gzip file named .csv, which would be read as text; None for any other file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(10)
    except OSError:
        return None
    kind = "bzip2" if BZIP2.match(head) else next((k for magic, k in MAGIC_BYTES.items() if head.startswith(magic)),
                                                  None)
    if kind is None or Path(path).suffix.lower() in KIND_SUFFIXES[kind]:
        return None
    return DataError(f"{path}: a {kind} file by its first bytes, but named {Path(path).suffix or 'without a suffix'}; "
                     f"name it *{KIND_SUFFIXES[kind][0]} (the last suffix says how a file is read)")


def text_suffix(path: Path) -> str:
    """The suffix that says what a file holds: `.tsv` for `ratings.tsv` and `ratings.tsv.gz`."""
    path = Path(path)
    return Path(path.stem).suffix.lower() if path.suffix.lower() in COMPRESSED else path.suffix.lower()


def parser_for(sep: str) -> dict[str, str]:
    """read_csv's `sep` and `engine`: pandas' fast C parser takes one character; a longer separator (`::`)
    needs the Python parser, which reads it as a regular expression, hence escaped."""
    import re

    return {"sep": sep, "engine": "c"} if len(sep) == 1 else {"sep": re.escape(sep), "engine": "python"}


def column_label(label: object) -> str:
    """A header name as matched against the configured ones: without surrounding spaces (`a, b` exports)."""
    return str(label).strip()


def read_table(
    path: Path,
    *,
    sep: str,
    columns: dict[str, str],
    header: bool,
    positions: list[int] | None = None,
    n_fields: int | None = None,
    encoding: str = "utf-8",
    data_line_hint: str = "",
) -> pd.DataFrame:
    """Read `columns` (name -> kind) from a delimited file, by header name or by `positions` (`n_fields`: the
    fields a line must have; default as many as `columns`, or at least up to the last of `positions`).

    Only an empty field is a missing id: 'NA' or 'None' are ids like any other (pandas would read them as NaN).
    """
    names = list(columns)
    if header:
        labels = _header_labels(path, sep, names, encoding, data_line_hint)
        usecols: list = [labels[n] for n in names]
    elif positions is not None and n_fields is None:  # a file of any width: the positions must exist
        _check_field_count(path, sep, max(positions) + 1, encoding, at_least=True)
        usecols = positions
    else:
        _check_field_count(path, sep, n_fields or len(names), encoding)
        usecols = positions if positions is not None else list(range(len(names)))
    kinds = dict(zip(usecols, columns.values()))
    dtype = {k: _DTYPES[v] for k, v in kinds.items() if _DTYPES[v] is not None}
    missing = sorted(STR_NA_VALUES) if _has_numeric(columns) else []
    na_values = {k: [""] if kind == "id" else missing for k, kind in kinds.items()}
    try:
        frame = pd.read_csv(
            path, **parser_for(sep), header=0 if header else None, usecols=usecols, dtype=dtype, encoding=encoding,
            na_filter=bool(missing) or "id" in kinds.values(), keep_default_na=False, na_values=na_values,
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        _diagnose(path, sep=sep, columns=columns, header=header, usecols=usecols, encoding=encoding)
        raise DataError(f"{path}: cannot be parsed ({_first_line_of(exc)})") from None
    except UNREADABLE_ARCHIVE as exc:  # the header decompressed, the rest does not (a truncated .gz or .xz)
        raise not_decompressed(path, exc) from None
    frame.columns = [names[usecols.index(c)] for c in frame.columns]
    frame = frame[names]
    for name, kind in columns.items():
        if kind == "id" and has_missing_ids(frame[name]):
            _diagnose(path, sep=sep, columns=columns, header=header, usecols=usecols, encoding=encoding)
            raise DataError(f"{path}: column '{name}' has an empty id (every row needs one: fill it in or delete "
                            f"the row)")
        if kind == "id":
            frame[name] = normalize_ids(frame[name])
        elif kind == "str":
            frame[name] = frame[name].fillna("")
        elif kind == "float" and frame[name].isna().any():
            _diagnose(path, sep=sep, columns=columns, header=header, usecols=usecols, encoding=encoding)
        elif kind == "time":
            try:
                frame[name] = unix_times(frame[name], path, name, 2 if header else 1)
            except DataError:  # its line number counts no blank line: the re-read below names the file's own
                _diagnose(path, sep=sep, columns=columns, header=header, usecols=usecols, encoding=encoding)
                raise
    if frame.empty:
        raise DataError(f"{path} has no data rows")
    return frame


def unix_times(values: pd.Series, path: Path, column: str, line_offset: int, what: str = "line") -> pd.Series:
    """Timestamps as int64, for ordering: whole numbers as given (Unix seconds or any other unit), a datetime column
    (Parquet) as integers of its own unit, as before; numbers with a fraction and dates or date-times (ISO 8601,
    `2000-07-30 18:45:03`) as microseconds since 1970 (UTC unless they say otherwise), so sub-second order is
    kept. A DataError names the first missing value, value that is neither, or number in a column of dates."""
    def refuse(bad: pd.Series) -> None:
        """Raise the DataError naming the first row where `bad` holds (none: nothing to refuse)."""
        rows = np.flatnonzero(np.asarray(bad, dtype=bool))
        if not rows.size:
            return
        row = int(rows[0])
        got = repr(str(values.iloc[row])) if pd.notna(values.iloc[row]) else "a missing value"
        raise DataError(f"{path}: {what} {int(values.index[row]) + line_offset}, column '{column}': expected a Unix "
                        f"time or a date such as 2000-07-30 18:45:03 (one kind per column), got {got}")

    refuse(values.isna())
    if pd.api.types.is_integer_dtype(values):
        if pd.api.types.is_unsigned_integer_dtype(values):  # 2**63 or more: int64 would wrap it
            refuse(pd.Series(values.to_numpy() >= 2**63, index=values.index))
        return values.astype("int64")
    if pd.api.types.is_datetime64_any_dtype(values):
        return (values.dt.tz_convert(None) if values.dt.tz is not None else values).astype("int64")
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        whole = bool((numbers % 1 == 0).all())
        scaled = numbers if whole else numbers * 1e6
        refuse(~np.isfinite(scaled) | (scaled.abs() >= 2.0**63))  # inf, or beyond int64 (which casts silently)
        return scaled.astype("int64") if whole else scaled.round().astype("int64")
    dates = pd.to_datetime(values.where(numbers.isna()), utc=True, errors="coerce", format="ISO8601")
    refuse((numbers.isna() & dates.isna()) | (numbers.notna() & bool(dates.notna().any())))
    return dates.dt.tz_convert(None).dt.as_unit("us").astype("int64")


def normalize_ids(values: pd.Series) -> pd.Series:
    """Ids as int64 when every value is an integer, else as str without surrounding spaces (`u1, i3` exports)."""
    if pd.api.types.is_integer_dtype(values):
        return values.astype("int64")
    as_num = pd.to_numeric(values, errors="coerce")
    if as_num.notna().all() and (as_num % 1 == 0).all():
        return as_num.astype("int64")
    return values.astype(str).str.strip()


def check_numeric(values: pd.Series, path: Path, column: str, line_offset: int, what: str = "line") -> None:
    """Raise a DataError naming the first row of `values` that is not a number (its index label + `line_offset`)."""
    coerced = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(coerced.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{path}: {what} {int(values.index[row]) + line_offset}, column '{column}': expected a number, "
            f"got {str(values.iloc[row])!r}"
        )


def has_missing_ids(values: pd.Series) -> bool:
    """Whether an id column holds a missing (NaN, None) or blank value; cheap for integer ids, which have none."""
    if pd.api.types.is_integer_dtype(values):
        return False
    if values.isna().any():
        return True
    return pd.api.types.is_string_dtype(values) and bool(values.str.strip().eq("").any())


def check_ids(values: pd.Series, path: Path, column: str, line_offset: int, what: str = "line") -> None:
    """Raise a DataError naming the first row of `values` whose id is missing, empty or only spaces.

    Without this an empty user id became a user called 'nan'.
    """
    text = values.astype(object).where(values.notna(), "").astype(str)
    bad = np.flatnonzero(text.str.strip().eq("").to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{path}: {what} {int(values.index[row]) + line_offset}, column '{column}': expected an id, got "
            f"{text.iloc[row]!r} (every row needs one: fill it in or delete the row)"
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
    return any(kind in ("int", "float", "time") for kind in columns.values())


def _header_labels(path: Path, sep: str, names: list[str], encoding: str, data_line_hint: str = "") -> dict[str, str]:
    """{configured name: the file's own header label} (pandas' parse of line 1: quotes, byte-order mark),
    or a DataError if the header does not split on `sep` or lacks a column (with `data_line_hint` when line 1
    holds only numbers: a file without a header)."""
    try:
        labels = [str(c) for c in pd.read_csv(path, **parser_for(sep), nrows=0, encoding=encoding).columns]
    except UnicodeDecodeError as exc:
        raise not_text(path, encoding, exc) from None
    except UNREADABLE_ARCHIVE as exc:  # a .gz file that is not gzip
        raise not_decompressed(path, exc) from None
    except (ValueError, pd.errors.ParserError) as exc:  # EmptyDataError: only blank lines
        raise DataError(f"{path}: cannot read its header line ({_first_line_of(exc)})") from None
    if len(labels) < 2 and len(names) > 1:
        raise DataError(
            f"{path}: the header {first_line(path, encoding)[:80]!r} does not split into columns with separator "
            f"{sep!r} (wrong separator? set data.sep)"
        )
    found: dict[str, str] = {}
    for label in labels:
        found.setdefault(column_label(label), label)
    missing = [n for n in names if n not in found]
    if missing:
        numbers = sum(_is_number(lb) for lb in labels)
        hint = f"; line 1 is data, not a header{data_line_hint}" if numbers == len(labels) else \
            f"; line 1 looks like data, not a header{data_line_hint}" if numbers * 2 >= len(labels) else \
            "; column numbers are for a file without a header row (data.header=false)" if missing[0].isdigit() else ""
        raise DataError(f"{path}: missing column '{missing[0]}' (the header has: {_listed(list(found))}){hint}")
    return {n: found[n] for n in names}


def _listed(labels: list[str], most: int = 12, width: int = 40) -> str:
    """The header's labels for a message: at most `most`, each cut to `width` characters (a JSON file's "header"
    is its whole first line)."""
    shown = [label if len(label) <= width else label[:width - 3] + "..." for label in labels[:most]]
    return ", ".join(shown) + (f", ... ({len(labels)} columns)" if len(labels) > most else "")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_field_count(path: Path, sep: str, n_fields: int, encoding: str, *, at_least: bool = False) -> None:
    """Raise a DataError if the first line does not split into `n_fields` fields (`at_least` that many) on `sep`."""
    line = first_line(path, encoding)
    found = len(line.split(sep))
    if found < n_fields or (found != n_fields and not at_least):
        raise DataError(
            f"{path}: line 1 has {found} field(s) with separator {sep!r}, expected {'at least ' * at_least}"
            f"{n_fields} (wrong separator or wrong file?)"
        )


def _diagnose(path: Path, *, sep: str, columns: dict[str, str], header: bool, usecols: list, encoding: str) -> None:
    """Re-read `path` as text and raise a DataError for the first malformed value, if any.

    Never raises anything else: a re-read that fails for another reason leaves the caller's own message.
    """
    try:
        raw = pd.read_csv(
            path, **parser_for(sep), header=0 if header else None, usecols=usecols, dtype=str,
            keep_default_na=False, skip_blank_lines=False, encoding=encoding,
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: malformed row ({_first_line_of(exc)})") from None
    except UnicodeDecodeError as exc:
        raise not_text(path, encoding, exc) from None
    except (ValueError, OSError):
        return
    raw = raw[~raw.fillna("").eq("").all(axis=1)]  # blank lines, which parsing skips; the index keeps line numbers
    offset = 2 if header else 1
    for key, (name, kind) in zip(usecols, columns.items()):
        if kind in ("int", "float"):
            check_numeric(raw[key], path, name, offset)
        elif kind == "id":
            check_ids(raw[key], path, name, offset)
        elif kind == "time":
            unix_times(raw[key].mask(raw[key].str.strip().isin(["", *STR_NA_VALUES])), path, name, offset)


def _first_line_of(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
