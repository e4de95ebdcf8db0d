"""`load_interactions`: read a dataset's files, whatever their format, into `Interactions`."""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from recsearch.data import movielens
from recsearch.data._read import (STR_NA_VALUES, check_ids, check_numeric, check_range, column_label, first_line,
                                  has_missing_ids, misnamed_file, normalize_ids, parser_for, read_table, require_file,
                                  text_suffix, unix_times)
from recsearch.data.paths import dataset_dir
from recsearch.data.synthetic import generate_synthetic
from recsearch.data.types import Interactions
from recsearch.errors import DataError

NOT_TABLES = frozenset({".json", ".jsonl", ".ndjson", ".xlsx", ".xls", ".ods", ".feather", ".arrow", ".h5", ".hdf5",
                        ".pkl", ".pickle", ".npy", ".npz", ".db", ".sqlite"})  # files that are no table read here

FORMATS = ("movielens_csv", "movielens_100k", "movielens_dat", "interactions", "synthetic")


def load_interactions(data_cfg: Any, data_dir: Path) -> Interactions:
    """Load the dataset described by `data_cfg` (never downloads; see `fetch_dataset`).

    Example: `load_interactions(cfg.data, resolve_data_dir(cfg.paths))`.
    """
    fmt = str(data_cfg.format)
    scale = rating_scale(data_cfg)
    if fmt == "synthetic":
        return generate_synthetic(data_cfg.synthetic, rating_scale=scale, name=str(data_cfg.name))
    loader = _LOADERS.get(fmt)
    if loader is None:
        raise DataError(f"unknown data format {fmt!r} for dataset {data_cfg.name!r}; valid formats: {', '.join(FORMATS)}")
    folder = dataset_dir(data_cfg, data_dir)
    if fmt != "interactions" and folder.is_file():
        raise DataError(f"{folder} is a file, but format {fmt!r} reads a dataset folder; set data.path to the "
                        f"folder that holds {', '.join(movielens.MAIN_FILES.get(fmt, ()))}, or add data=custom to "
                        "read the file as your own interactions file")
    if fmt != "interactions" and not folder.is_dir():
        raise DataError(f"dataset folder {folder} does not exist: {movielens.missing_hint(folder, data_cfg.name)}")
    inter = loader(data_cfg, folder, scale)
    _validate_scale(inter, data_cfg)
    _check_count(inter, data_cfg)
    return _without_duplicate_pairs(inter)


def _check_count(inter: Interactions, data_cfg: Any) -> None:
    """Warn when a published dataset holds another number of ratings than its publisher ships (`data.n_ratings`):
    a copy cut short at a line boundary, or edited, reads cleanly otherwise."""
    expected = getattr(data_cfg, "n_ratings", None)
    if expected and len(inter.ratings) != int(expected):
        where = inter.source_files[0] if inter.source_files else inter.name
        warn(f"{where}: {len(inter.ratings):,} ratings where {data_cfg.name} ships {int(expected):,} (a truncated or "
             f"edited copy? `recsearch data fetch` downloads it again; data=custom reads a file of your own)",
             once=True)


def rating_scale(data_cfg: Any) -> tuple[float, float]:
    """`data.rating_scale` as a checked (low, high) pair."""
    values = [float(v) for v in data_cfg.rating_scale]
    if len(values) != 2 or values[0] >= values[1]:
        raise DataError(f"data.rating_scale must be [low, high] with low < high, got {values}")
    return values[0], values[1]


def ratings_file_path(data_cfg: Any, folder: Path) -> Path:
    """The ratings file of the generic format: data.path itself when it is a file (whatever data.ratings_file
    says: the custom option sets it for a folder), else data.ratings_file, absolute or in that folder."""
    if folder.is_file():
        return folder
    if not folder.exists():
        if not data_cfg.path:
            raise DataError(f"data={data_cfg.name} needs data.path=FOLDER_OR_FILE (the folder of "
                            f"{data_cfg.ratings_file or 'the ratings file'}, or the file itself); {folder} does not "
                            f"exist")
        raise DataError(f"{folder} not found: set data.path to the folder of the ratings file, or to the file itself")
    if not data_cfg.ratings_file:
        raise DataError(f"dataset {data_cfg.name!r}: format 'interactions' needs data.ratings_file (or data.path set to the file)")
    return dataset_file(folder, data_cfg.ratings_file)


def dataset_file(folder: Path, filename: str) -> Path:
    """`filename` when absolute, else in the dataset folder (the folder of data.path when that is a file)."""
    path = Path(filename).expanduser()
    return path if path.is_absolute() else (folder.parent if folder.is_file() else folder) / path


def _refuse_header_as_data(raw: pd.DataFrame, cols: Any, path: Path) -> None:
    """With data.header=false, a first row whose user or item id is a word while every other row's is a number
    is a header read as data (it would add a user and an item): refused, naming the setting."""
    for key in ("user", "item"):
        ids = raw[getattr(cols, key)]
        if pd.api.types.is_integer_dtype(ids) or len(ids) < 2:
            continue
        first = str(ids.iloc[0])
        if pd.to_numeric(pd.Series([first]), errors="coerce").isna().all() \
                and pd.to_numeric(ids.iloc[1:], errors="coerce").notna().all():
            raise DataError(f"{path}: line 1 looks like a header ({key} id {first!r}, every other row's a number), "
                            "but data.header=false reads it as data; set data.header=true and data.columns.* to "
                            "its names")


def require_table_file(path: Path, hint: str) -> None:
    """DataError unless `path` is a file read as a table: missing (with `hint`), a kind not read here (.json,
    .xlsx, ...), or compressed or Parquet under a name that says otherwise (read as text it gives nonsense)."""
    require_file(path, hint)
    if text_suffix(path) in NOT_TABLES:
        raise DataError(f"{path}: a {text_suffix(path)} file is not read here; save it as CSV, TSV (or another "
                        "data.sep) or Parquet, compressed or not (.gz, .bz2, .xz, .zip)")
    misnamed = misnamed_file(path)
    if misnamed is not None:
        raise misnamed


def read_interactions_file(data_cfg: Any, path: Path, setting: str = "data.ratings_file") -> pd.DataFrame:
    """Read a generic CSV/TSV/Parquet interactions file into user_id, item_id, rating, timestamp.

    `setting` is the config key that named the file, for the error when it is missing.
    """
    require_table_file(path, _missing_file_hint(data_cfg, setting))
    cols = data_cfg.columns
    mapped = [(key, getattr(cols, key)) for key in ("user", "item", "rating", "timestamp")
              if getattr(cols, key, None) is not None]
    for i, (key, column) in enumerate(mapped):
        other = next((k for k, c in mapped[i + 1:] if column_label(c) == column_label(column)), None)
        if other:
            raise DataError(f"data.columns.{key} and data.columns.{other} both name column {column!r} of {path}; "
                            "each must name its own")
    wanted = {cols.user: "id", cols.item: "id"}
    if cols.rating:
        wanted[cols.rating] = "float"
    if cols.timestamp:
        wanted[cols.timestamp] = "time"
    parquet = path.suffix.lower() in (".parquet", ".pq")
    if not getattr(data_cfg, "header", True):
        if parquet:
            raise DataError(f"{path}: data.header=false is for CSV and TSV files; a Parquet file names its columns "
                            "(set data.columns.* to its column names and data.header=true)")
        sep = _separator(data_cfg, path)
        positions = _positions(cols)
        fields = len(first_line(path).split(sep))
        beyond = [(key, pos) for key, pos in positions.items() if pos >= fields]
        if beyond:
            key, pos = beyond[0]
            raise DataError(f"{path}: data.columns.{key}={pos}, but line 1 has {fields} column(s) with separator "
                            f"{sep!r} (0 to {fields - 1}); give a column number in that range (or set data.sep)")
        try:
            raw = read_table(path, sep=sep, columns=wanted, header=False, positions=list(positions.values()))
        except DataError as exc:
            word = re.search(r": line 1, column '[^']*': expected a (?:number|Unix time\b.*), "
                             r"got '([A-Za-z_][\w -]*)'$", str(exc))
            if word is None or word.group(1) in STR_NA_VALUES:  # line 1 holds a word: maybe a header
                raise
            raise DataError(f"{exc}; if line 1 is a header, set data.header=true and data.columns.* to its "
                            "names") from None
        _refuse_header_as_data(raw, cols, path)
    else:
        roles = {name: role for role, name in (("timestamp", cols.timestamp), ("rating", cols.rating),
                                                ("item", cols.item), ("user", cols.user)) if name}
        with _naming_the_column_setting(roles):
            raw = _read_parquet(path, wanted) if parquet else read_table(
                path, sep=_separator(data_cfg, path), columns=wanted, header=True,
                data_line_hint=": set data.header=false and give data.columns.* as 0-based column numbers "
                               "(data.columns.user=0 data.columns.item=1 ...)")
    n = len(raw)
    return pd.DataFrame({
        "user_id": raw[cols.user].to_numpy(),
        "item_id": raw[cols.item].to_numpy(),
        "rating": raw[cols.rating].to_numpy(np.float32) if cols.rating else np.ones(n, np.float32),
        "timestamp": raw[cols.timestamp].to_numpy(np.int64) if cols.timestamp else np.zeros(n, np.int64),
    })


def _positions(cols: Any) -> dict[str, int]:
    """The 0-based column numbers of a file without a header (data.header=false): user, item, then rating and
    timestamp where set. A column name there is refused, naming the setting."""
    positions: dict[str, int] = {}
    for key in ("user", "item", "rating", "timestamp"):
        value = getattr(cols, key, None)
        if value is None:
            continue
        text = str(value).strip()
        if not text.isdecimal():
            raise DataError(f"data.header=false reads columns by position, but data.columns.{key}={value!r} is not "
                            f"a 0-based column number; give e.g. data.columns.user=0 data.columns.item=1 "
                            f"data.columns.rating=2 data.columns.timestamp=3 (null for a column the file lacks)")
        positions[key] = int(text)
    return positions  # two naming one column: refused in read_interactions_file, as with a header


def read_split_file(data_cfg: Any, folder: Path, split_cfg: Any, key: str) -> pd.DataFrame:
    """Read the predefined split file `split.<key>` (train_file, valid_file or test_file), in the same format
    as the dataset's main ratings file."""
    fmt = str(data_cfg.format)
    path = dataset_file(folder, getattr(split_cfg, key))
    if fmt == "interactions":
        frame = read_interactions_file(data_cfg, path, setting=f"split.{key}")
    elif fmt in movielens.MAIN_FILES:
        require_file(path, _missing_file_hint(data_cfg, f"split.{key}"))
        frame = movielens.read_ratings_file(path, fmt)
    else:
        raise DataError(f"predefined splits need files; dataset format {fmt!r} has none")
    _check_frame_scale(frame, rating_scale(data_cfg), path, column=_rating_column(data_cfg),
                       line_offset=_first_data_line(data_cfg))
    return frame


def _missing_file_hint(data_cfg: Any, setting: str) -> str:
    """The advice of a missing-file error: the key that named the file (relative to the dataset folder)."""
    return f"check {setting} / data.path of dataset {data_cfg.name!r}"


def _load_generic(data_cfg: Any, folder: Path, scale: tuple[float, float]) -> Interactions:
    """The generic `interactions` format: one ratings file plus an optional items file."""
    path = ratings_file_path(data_cfg, folder)
    ratings = read_interactions_file(data_cfg, path)
    items, files = None, [path]
    if data_cfg.items_file and not getattr(data_cfg, "header", True):
        raise DataError(f"data.items_file is read by the name of its item column, data.columns.item, which "
                        f"data.header=false makes a column number ({data_cfg.columns.item}); drop data.items_file, "
                        "or give the ratings file a header row")
    if data_cfg.items_file:
        items_path = dataset_file(folder, data_cfg.items_file)
        items = _read_items(data_cfg, items_path)
        files.append(items_path)
    return Interactions(str(data_cfg.name), ratings, items=items, rating_scale=scale, source_files=tuple(files))


@contextlib.contextmanager
def _naming_the_column_setting(roles: dict[str, str]) -> Iterator[None]:
    """A "missing column 'uid'" error of the file's header, with the setting that names that column
    (`data.columns.user`, from `roles`: column name -> role)."""
    try:
        yield
    except DataError as exc:
        match = re.search(r": missing column '([^']*)' \(the (?:header|file) has: [^)]*\)$", str(exc))  # no hint yet
        if match is None or match.group(1) not in roles:
            raise
        role = roles[match.group(1)]
        none = " (or null: the file has none)" if role in ("rating", "timestamp") else ""
        raise DataError(f"{exc}; set data.columns.{role} to the file's name for it{none}") from None


def _read_items(data_cfg: Any, path: Path) -> pd.DataFrame:
    """A generic items file: the item column, plus title and '|'-separated genres when present."""
    require_table_file(path, _missing_file_hint(data_cfg, "data.items_file"))
    item_col = data_cfg.columns.item
    if path.suffix.lower() in (".parquet", ".pq"):
        raw = _read_parquet(path, {item_col: "id"}, keep_all=True)
    else:
        raw = read_table(path, sep=_separator(data_cfg, path), columns={item_col: "id"}, header=True)
        full = pd.read_csv(path, **parser_for(_separator(data_cfg, path)), dtype=str, keep_default_na=False)
        raw = full.rename(columns=column_label).assign(**{item_col: raw[item_col].to_numpy()})
    text = {c: raw[c].astype(str).str.strip() for c in ("title", "genres") if c in raw}  # `a, b` exports: no spaces
    titles = text["title"].to_numpy() if "title" in text else np.full(len(raw), "", dtype=object)
    genres = movielens.split_genres(text["genres"], "|") if "genres" in text else [[] for _ in range(len(raw))]
    return pd.DataFrame({"item_id": raw[item_col].to_numpy(), "title": titles, "genres": genres})


def _read_parquet(path: Path, wanted: dict[str, str], keep_all: bool = False) -> pd.DataFrame:
    """Read a Parquet file, checking that the wanted columns exist and are numeric where needed."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DataError(f"{path}: missing column '{missing[0]}' (the file has: {', '.join(names)})")
    frame = pd.read_parquet(path, columns=None if keep_all else list(wanted)).reset_index(drop=True)  # row = position
    frame.columns = [str(c) for c in frame.columns]  # as the schema names them (pandas restores integer labels)
    if frame.empty:
        raise DataError(f"{path} has no data rows")
    for name, kind in wanted.items():
        if kind == "id":
            if has_missing_ids(frame[name]):
                check_ids(frame[name], path, name, 1, what="row")
            frame[name] = normalize_ids(frame[name])
        elif kind == "time":
            frame[name] = unix_times(frame[name], path, name, 1, what="row")
        elif not pd.api.types.is_numeric_dtype(frame[name]):
            check_numeric(frame[name], path, name, 1, what="row")
            frame[name] = pd.to_numeric(frame[name])
    return frame


def _separator(data_cfg: Any, path: Path) -> str:
    """`data.sep`, else tab for .tsv/.tab files (compressed too: `.tsv.gz`), else comma."""
    if data_cfg.sep:
        return "\t" if data_cfg.sep in ("\\t", "tab") else str(data_cfg.sep)
    return "\t" if text_suffix(path) in (".tsv", ".tab") else ","


def _check_frame_scale(frame: pd.DataFrame, scale: tuple[float, float], path: Path, line_offset: int, *,
                       column: str = "rating") -> None:
    """Every rating within the scale; an error names the file's own `column`."""
    check_range(frame["rating"].to_numpy(), scale, path, column, line_offset)


def _rating_column(data_cfg: Any) -> str:
    """The ratings file's name for the rating column (`data.columns.rating` of the generic format)."""
    columns = getattr(data_cfg, "columns", None) if data_cfg.format == "interactions" else None
    return str(getattr(columns, "rating", None) or "rating")


def _validate_scale(inter: Interactions, data_cfg: Any) -> None:
    """Ratings outside the rating scale are an error (implicit data, all 1.0, must include 1)."""
    path = inter.source_files[0] if inter.source_files else Path(str(data_cfg.name))
    _check_frame_scale(inter.ratings, inter.rating_scale, path, _first_data_line(data_cfg),
                       column=_rating_column(data_cfg))


def _first_data_line(data_cfg: Any) -> int:
    """The file line of the first data row, for messages: 2 under a header row, else 1."""
    header = data_cfg.format == "movielens_csv" or (data_cfg.format == "interactions"
                                                     and getattr(data_cfg, "header", True))
    return 2 if header else 1


_LOADERS: dict[str, Callable[[Any, Path, tuple[float, float]], Interactions]] = {
    "movielens_csv": lambda cfg, folder, scale: movielens.load_movielens_csv(folder, str(cfg.name), scale),
    "movielens_100k": lambda cfg, folder, scale: movielens.load_movielens_100k(folder, str(cfg.name), scale),
    "movielens_dat": lambda cfg, folder, scale: movielens.load_movielens_dat(folder, str(cfg.name), scale),
    "interactions": _load_generic,
}


def _without_duplicate_pairs(inter: Interactions) -> Interactions:
    """Keep the latest rating of each (user, item) pair, saying how many rows were dropped.

    Done at load time so `data info` counts what is trained, and no pair can straddle two split parts.
    """
    ratings = inter.ratings
    dup = ratings.duplicated(["user_id", "item_id"], keep=False)
    if not dup.any():
        return inter
    ordered = ratings.sort_values("timestamp", kind="stable")
    kept = ordered.drop_duplicates(["user_id", "item_id"], keep="last").sort_index()
    where = inter.source_files[0] if inter.source_files else inter.name
    warn(f"{where}: {len(ratings) - len(kept):,} duplicate (user, item) rows dropped, keeping the latest rating "
         f"of each of {int(dup.sum()) - (len(ratings) - len(kept)):,} pairs; {len(kept):,} ratings remain"
         + ("; that many duplicates suggests data.columns.user or .item names the wrong column" if
            len(kept) < len(ratings) / 2 else ""), once=True)
    return replace(inter, ratings=kept.reset_index(drop=True))


_WARNED: set[str] = set()
_RECORDING: list[list[str]] = []  # the open `recorded_warnings` lists


def warn(message: str, *, once: bool = False) -> None:
    """A one-line warning on stderr, in the CLI's `recsearch: ...` style; `once`: not again in this process
    (a sweep's trials, validation and test, would each repeat it)."""
    import sys

    for said in _RECORDING:
        said.append(message)
    if once and message in _WARNED:
        return
    _WARNED.add(message)
    print(f"recsearch: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def recorded_warnings() -> Iterator[list[str]]:
    """The warnings given inside, in a list (the prepared-data cache keeps them, so a cached load says them too)."""
    said: list[str] = []
    _RECORDING.append(said)
    try:
        yield said
    finally:
        _RECORDING.remove(said)
