"""`load_interactions`: read a dataset's files, whatever their format, into `Interactions`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from recsearch.data import movielens
from recsearch.data._read import check_numeric, check_range, normalize_ids, read_table, require_file
from recsearch.data.paths import dataset_dir
from recsearch.data.synthetic import generate_synthetic
from recsearch.data.types import Interactions
from recsearch.errors import DataError

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
                        f"folder that holds {', '.join(movielens.MAIN_FILES.get(fmt, ()))}")
    if fmt != "interactions" and not folder.is_dir():
        raise DataError(f"dataset folder {folder} does not exist: {movielens.missing_hint(folder, data_cfg.name)}")
    inter = loader(data_cfg, folder, scale)
    _validate_scale(inter, data_cfg)
    return _without_duplicate_pairs(inter)


def rating_scale(data_cfg: Any) -> tuple[float, float]:
    """`data.rating_scale` as a checked (low, high) pair."""
    values = [float(v) for v in data_cfg.rating_scale]
    if len(values) != 2 or values[0] >= values[1]:
        raise DataError(f"data.rating_scale must be [low, high] with low < high, got {values}")
    return values[0], values[1]


def ratings_file_path(data_cfg: Any, folder: Path, filename: str | None) -> Path:
    """A file of the generic format: absolute, or relative to the dataset folder."""
    if filename is None:
        if folder.is_file():
            return folder
        raise DataError(f"dataset {data_cfg.name!r}: format 'interactions' needs data.ratings_file (or data.path set to the file)")
    path = Path(filename).expanduser()
    base = folder.parent if folder.is_file() else folder
    return path if path.is_absolute() else base / path


def read_interactions_file(data_cfg: Any, path: Path) -> pd.DataFrame:
    """Read a generic CSV/TSV/Parquet interactions file into user_id, item_id, rating, timestamp."""
    require_file(path, f"check data.ratings_file / data.path of dataset {data_cfg.name!r}")
    cols = data_cfg.columns
    wanted = {cols.user: "id", cols.item: "id"}
    if cols.rating:
        wanted[cols.rating] = "float"
    if cols.timestamp:
        wanted[cols.timestamp] = "int"
    if path.suffix.lower() in (".parquet", ".pq"):
        raw = _read_parquet(path, wanted)
    else:
        raw = read_table(path, sep=_separator(data_cfg, path), columns=wanted, header=True)
    n = len(raw)
    return pd.DataFrame({
        "user_id": raw[cols.user].to_numpy(),
        "item_id": raw[cols.item].to_numpy(),
        "rating": raw[cols.rating].to_numpy(np.float32) if cols.rating else np.ones(n, np.float32),
        "timestamp": raw[cols.timestamp].to_numpy(np.int64) if cols.timestamp else np.zeros(n, np.int64),
    })


def read_split_file(data_cfg: Any, folder: Path, filename: str) -> pd.DataFrame:
    """Read a predefined split file, in the same format as the dataset's main ratings file."""
    fmt = str(data_cfg.format)
    base = folder.parent if folder.is_file() else folder
    path = Path(filename).expanduser()
    path = path if path.is_absolute() else base / path
    if fmt == "interactions":
        frame = read_interactions_file(data_cfg, path)
    elif fmt in movielens.MAIN_FILES:
        require_file(path, f"the split file must be in the dataset folder {base}")
        frame = movielens.read_ratings_file(path, fmt)
    else:
        raise DataError(f"predefined splits need files; dataset format {fmt!r} has none")
    _check_frame_scale(frame, rating_scale(data_cfg), path, column=_rating_column(data_cfg),
                       line_offset=2 if fmt in ("movielens_csv", "interactions") else 1)
    return frame


def _load_generic(data_cfg: Any, folder: Path, scale: tuple[float, float]) -> Interactions:
    """The generic `interactions` format: one ratings file plus an optional items file."""
    path = ratings_file_path(data_cfg, folder, data_cfg.ratings_file)
    ratings = read_interactions_file(data_cfg, path)
    items, files = None, [path]
    if data_cfg.items_file:
        items_path = ratings_file_path(data_cfg, folder, data_cfg.items_file)
        items = _read_items(data_cfg, items_path)
        files.append(items_path)
    return Interactions(str(data_cfg.name), ratings, items=items, rating_scale=scale, source_files=tuple(files))


def _read_items(data_cfg: Any, path: Path) -> pd.DataFrame:
    """A generic items file: the item column, plus title and '|'-separated genres when present."""
    require_file(path, f"check data.items_file of dataset {data_cfg.name!r}")
    item_col = data_cfg.columns.item
    if path.suffix.lower() in (".parquet", ".pq"):
        raw = _read_parquet(path, {item_col: "id"}, keep_all=True)
    else:
        raw = read_table(path, sep=_separator(data_cfg, path), columns={item_col: "id"}, header=True)
        full = pd.read_csv(path, sep=_separator(data_cfg, path), dtype=str, keep_default_na=False)
        raw = full.assign(**{item_col: raw[item_col].to_numpy()})
    titles = raw["title"].astype(str).to_numpy() if "title" in raw else np.full(len(raw), "", dtype=object)
    genres = movielens.split_genres(raw["genres"], "|") if "genres" in raw else [[] for _ in range(len(raw))]
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
    frame = pd.read_parquet(path, columns=None if keep_all else list(wanted))
    if frame.empty:
        raise DataError(f"{path} has no data rows")
    for name, kind in wanted.items():
        if kind == "id":
            frame[name] = normalize_ids(frame[name])
        elif not pd.api.types.is_numeric_dtype(frame[name]):
            check_numeric(frame[name], path, name, 1, what="row")
            frame[name] = pd.to_numeric(frame[name])
    return frame


def _separator(data_cfg: Any, path: Path) -> str:
    """`data.sep`, else tab for .tsv/.tab files, else comma."""
    if data_cfg.sep:
        return "\t" if data_cfg.sep in ("\\t", "tab") else str(data_cfg.sep)
    return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","


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
    offset = 2 if data_cfg.format in ("movielens_csv", "interactions") else 1
    _check_frame_scale(inter.ratings, inter.rating_scale, path, offset, column=_rating_column(data_cfg))


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
         f"of each of {int(dup.sum()) - (len(ratings) - len(kept)):,} pairs; {len(kept):,} ratings remain")
    return replace(inter, ratings=kept.reset_index(drop=True))


def warn(message: str) -> None:
    """A one-line warning on stderr, in the CLI's `recsearch: ...` style."""
    import sys

    print(f"recsearch: warning: {message}", file=sys.stderr)


def require_splittable(name: str, n_ratings: int, part_sizes: tuple[int, int, int], split_cfg: Any) -> None:
    """Refuse a split that leaves train, or a part the split config gives a positive share, empty.

    Without this a tiny dataset trains on nothing and reports nan with exit code 0.
    """
    if all(size > 0 for size, needed in zip(part_sizes, _needed_parts(split_cfg)) if needed):
        return
    raise DataError(f"dataset {name!r} is too small to split: {n_ratings} ratings, need at least "
                    f"{min_ratings(split_cfg)} for split.method={split_cfg.method} (train {part_sizes[0]}, "
                    f"validation {part_sizes[1]}, test {part_sizes[2]}); use a larger ratings file")


def _needed_parts(split_cfg: Any) -> tuple[bool, bool, bool]:
    """Which of train, validation, test must be non-empty under `split_cfg`."""
    method = str(split_cfg.method)
    if method == "predefined":
        return True, bool(split_cfg.valid_file) or float(split_cfg.valid_ratio) > 0, True
    if method == "leave_one_out" or (method == "temporal" and str(split_cfg.temporal_mode) == "per_user"):
        return True, True, True
    ratios = [float(r) for r in split_cfg.ratios]
    return True, len(ratios) == 3 and ratios[1] > 0, len(ratios) == 3 and ratios[2] > 0


def min_ratings(split_cfg: Any) -> int:
    """The fewest ratings a split can turn into non-empty parts (per user, for the per-user methods)."""
    method = str(split_cfg.method)
    if method == "leave_one_out":
        return 3
    if method == "temporal" and str(split_cfg.temporal_mode) == "per_user":
        return 2 * int(split_cfg.last_k) + 1
    if method == "predefined":
        return 2
    ratios = [float(r) for r in split_cfg.ratios]
    for n in range(3, 100_000):
        a, b = round(n * ratios[0]), round(n * (ratios[0] + ratios[1]))
        if a >= 1 and (b - a >= 1 or ratios[1] <= 0) and (n - b >= 1 or ratios[2] <= 0):
            return n
    return 100_000
