"""Readers of the GroupLens MovieLens layouts: ml-latest / ml-25m / ml-32m CSV, ml-100k, ml-1m / ml-10m."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsearch.data._read import read_table, require_file
from recsearch.data.types import Interactions
from recsearch.errors import DataError

NO_GENRES = "(no genres listed)"
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)
RATING_COLUMNS = {"user_id": "int", "item_id": "int", "rating": "float", "timestamp": "int"}
# The top folder of a GroupLens zip, where it is not the dataset's name: a data dir laid out like the zip
# (unpacked by hand) is used as it is (`recsearch.data.paths.dataset_dir`); `fetch` renames it.
ZIP_FOLDERS = {"ml-10m": "ml-10M100K"}
MAIN_FILES = {
    "movielens_csv": ("ratings.csv", "movies.csv"),
    "movielens_100k": ("u.data", "u.item"),
    "movielens_dat": ("ratings.dat", "movies.dat"),
}


def missing_hint(folder: Path, name: str) -> str:
    """The advice appended to a missing-file error."""
    return (
        f"put the {name} files in {folder} (or run `recsearch data fetch {name}` to download them)"
    )


def ratings_path(folder: Path, filename: str, name: str) -> Path:
    """`folder/filename`, checked to exist and be non-empty."""
    return require_file(folder / filename, missing_hint(folder, name))


def read_ratings_file(path: Path, fmt: str) -> pd.DataFrame:
    """Read one ratings file of a MovieLens format into user_id, item_id, rating, timestamp."""
    if fmt == "movielens_csv":
        cols = dict(zip(["userId", "movieId", "rating", "timestamp"], RATING_COLUMNS.values()))
        frame = read_table(path, sep=",", columns=cols, header=True)
        frame.columns = list(RATING_COLUMNS)
    elif fmt == "movielens_100k":
        frame = read_table(path, sep="\t", columns=RATING_COLUMNS, header=False)
    else:
        # "a::b::c::d" splits on ":" into 7 fields, the values at the even positions.
        frame = read_table(path, sep=":", columns=RATING_COLUMNS, header=False, positions=[0, 2, 4, 6], n_fields=7)
    frame["rating"] = frame["rating"].astype("float32")
    return frame


def load_movielens_csv(folder: Path, name: str, scale: tuple[float, float]) -> Interactions:
    """ml-latest(-small), ml-25m, ml-32m: ratings.csv, movies.csv, optional tags.csv."""
    ratings_file = ratings_path(folder, "ratings.csv", name)
    movies_file = ratings_path(folder, "movies.csv", name)
    ratings = read_ratings_file(ratings_file, "movielens_csv")
    movies = read_table(movies_file, sep=",", columns={"movieId": "int", "title": "str", "genres": "str"}, header=True)
    items = pd.DataFrame({
        "item_id": movies["movieId"].to_numpy(),
        "title": movies["title"].astype(str).to_numpy(),
        "genres": split_genres(movies["genres"], "|"),
    })
    tags, files = None, [ratings_file, movies_file]
    if (folder / "tags.csv").is_file() and (folder / "tags.csv").stat().st_size:
        cols = {"userId": "int", "movieId": "int", "tag": "str", "timestamp": "int"}
        tags = read_table(folder / "tags.csv", sep=",", columns=cols, header=True)
        tags.columns = ["user_id", "item_id", "tag", "timestamp"]
        files.append(folder / "tags.csv")
    return Interactions(name, ratings, items=items, tags=tags, rating_scale=scale, source_files=tuple(files))


def load_movielens_100k(folder: Path, name: str, scale: tuple[float, float]) -> Interactions:
    """ml-100k: u.data (tab-separated), u.item and u.user ('|'-separated, latin-1), u.genre."""
    data_file = ratings_path(folder, "u.data", name)
    item_file = ratings_path(folder, "u.item", name)
    ratings = read_ratings_file(data_file, "movielens_100k")
    genre_names = _genre_names_100k(folder / "u.genre")
    cols = {"item_id": "int", "title": "str", "release_date": "str", "video_date": "str", "imdb_url": "str"}
    cols.update({f"g{i}": "int" for i in range(len(genre_names))})
    raw = read_table(item_file, sep="|", columns=cols, header=False, encoding="latin-1")
    flags = raw[[f"g{i}" for i in range(len(genre_names))]].to_numpy() > 0
    names = np.array(genre_names, dtype=object)
    items = pd.DataFrame({
        "item_id": raw["item_id"].to_numpy(),
        "title": raw["title"].astype(str).to_numpy(),
        "genres": [list(names[row]) for row in flags],
        "release_date": raw["release_date"].astype(str).to_numpy(),
    })
    users, files = None, [data_file, item_file]
    if (folder / "u.user").is_file():
        ucols = {"user_id": "int", "age": "int", "gender": "str", "occupation": "str", "zip": "str"}
        users = read_table(folder / "u.user", sep="|", columns=ucols, header=False, encoding="latin-1")
        files.append(folder / "u.user")
    return Interactions(name, ratings, items=items, users=users, rating_scale=scale, source_files=tuple(files))


def load_movielens_dat(folder: Path, name: str, scale: tuple[float, float]) -> Interactions:
    """ml-1m, ml-10m: ratings.dat, movies.dat and (ml-1m) users.dat, all '::'-separated."""
    ratings_file = ratings_path(folder, "ratings.dat", name)
    movies_file = ratings_path(folder, "movies.dat", name)
    ratings = read_ratings_file(ratings_file, "movielens_dat")
    movies = _split_dat(movies_file, 3)
    items = pd.DataFrame({
        "item_id": _int_column(movies, 0, movies_file, "MovieID"),
        "title": [row[1] for row in movies],
        "genres": split_genres(pd.Series([row[2] for row in movies]), "|"),
    })
    users, files = None, [ratings_file, movies_file]
    if (folder / "users.dat").is_file():
        rows = _split_dat(folder / "users.dat", 5)
        users = pd.DataFrame(rows, columns=["user_id", "gender", "age", "occupation", "zip"])
        users["user_id"] = _int_column(rows, 0, folder / "users.dat", "UserID")
        users["age"] = _int_column(rows, 2, folder / "users.dat", "Age")
        files.append(folder / "users.dat")
    return Interactions(name, ratings, items=items, users=users, rating_scale=scale, source_files=tuple(files))


def split_genres(genres: pd.Series, sep: str) -> list[list[str]]:
    """'A|B' -> ['A', 'B']; '' and '(no genres listed)' -> []."""
    return [[] if not g or g == NO_GENRES else g.split(sep) for g in genres.astype(str).tolist()]


def _genre_names_100k(path: Path) -> list[str]:
    """Genre names from u.genre ('name|index' lines), else the standard 19."""
    if not path.is_file():
        return list(GENRES_100K)
    lines = path.read_bytes().decode("latin-1").splitlines()
    names = [line.split("|")[0] for line in lines if line.strip()]
    return names or list(GENRES_100K)


def _split_dat(path: Path, n_fields: int) -> list[list[str]]:
    """Split a small '::'-separated file into rows of exactly `n_fields` strings."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("::", n_fields - 1)
        if len(fields) != n_fields:
            raise DataError(f"{path}: line {number} has {len(fields)} '::'-separated field(s), expected {n_fields}")
        rows.append(fields)
    if not rows:
        raise DataError(f"{path} has no data rows")
    return rows


def _int_column(rows: list[list[str]], index: int, path: Path, column: str) -> np.ndarray:
    """Field `index` of every row as int64, or a DataError naming the first bad line."""
    values = pd.Series([row[index] for row in rows])
    parsed = pd.to_numeric(values, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(f"{path}: line {row + 1}, column '{column}': expected a number, got {values[row]!r}")
    return parsed.to_numpy().astype("int64")

