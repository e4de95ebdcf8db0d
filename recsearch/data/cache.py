"""On-disk cache of prepared splits and of source-file checksums, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from recsearch.data.types import PreparedData, SplitArrays

FORMAT_VERSION = 3  # 2: items carry a `tags` list column; 3: one .npy per array, memory-mapped on load
_PARTS = ("train", "valid", "test")
_FIELDS = ("users", "items", "ratings", "timestamps")
_SIDECAR = "checksums.json"


def files_checksum(paths: list[Path], cache_dir: Path | None) -> str:
    """SHA-256 over the files' names and bytes; per-file hashes are reused while size and mtime hold."""
    known = _read_sidecar(cache_dir)
    digest = hashlib.sha256()
    changed = False
    for path in paths:
        stat = path.stat()
        entry = known.get(str(path.resolve()))
        if not entry or entry["size"] != stat.st_size or entry["mtime_ns"] != stat.st_mtime_ns:
            entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256_file(path)}
            known[str(path.resolve())] = entry
            changed = True
        digest.update(f"{path.name}:{entry['sha256']}\n".encode())
    if changed and cache_dir is not None:
        _write_sidecar(cache_dir, known)
    return digest.hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def entry_dir(cache_dir: Path, name: str, key: str) -> Path:
    """The folder holding one prepared split."""
    return Path(cache_dir) / name / key


def save_prepared(data: PreparedData, folder: Path) -> None:
    """Write arrays (one .npy each), items/users (.parquet) and meta (.json) to a temp folder, then rename it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-tmp-"))
    try:
        arrays = {f"{p}_{f}": getattr(getattr(data, p), f) for p in _PARTS for f in _FIELDS}
        for key, array in {"user_ids": data.user_ids, "item_ids": data.item_ids, **arrays}.items():
            np.save(tmp / f"{key}.npy", np.ascontiguousarray(array), allow_pickle=False)
        data.items.to_parquet(tmp / "items.parquet", index=False)
        if data.users is not None:
            data.users.to_parquet(tmp / "users.parquet", index=False)
        (tmp / "meta.json").write_text(json.dumps(_meta(data), indent=1))
        os.rename(tmp, folder)
    except OSError:
        if not (folder / "meta.json").is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_prepared(folder: Path) -> PreparedData | None:
    """The prepared split stored in `folder`, or None if it is absent or unreadable.

    The arrays are memory-mapped read-only: loading takes milliseconds at any size, and worker
    processes on one machine share the pages through the OS page cache instead of each holding a copy.
    """
    if not (folder / "meta.json").is_file():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            return None
        names = ["user_ids", "item_ids", *(f"{p}_{f}" for p in _PARTS for f in _FIELDS)]
        arrays = {k: _mapped(folder / f"{k}.npy") for k in names}
        items = _read_frame(folder / "items.parquet")
        users = _read_frame(folder / "users.parquet") if meta["has_users"] else None
    except (OSError, ValueError, KeyError):
        return None
    parts = {p: SplitArrays(*(arrays[f"{p}_{f}"] for f in _FIELDS)) for p in _PARTS}
    return PreparedData(
        name=meta["name"], **parts, num_users=meta["num_users"], num_items=meta["num_items"],
        user_ids=arrays["user_ids"], item_ids=arrays["item_ids"], items=items, users=users,
        rating_scale=tuple(meta["rating_scale"]), checksum=meta["checksum"], split_key=meta["split_key"],
        extras=meta["extras"],
    )


def _mapped(path: Path) -> np.ndarray:
    """A read-only plain ndarray backed by the .npy file's pages (np.memmap's subclass dropped)."""
    return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)


def _read_frame(path: Path) -> pd.DataFrame:
    """A cached frame, with list columns turned back from arrays into lists."""
    frame = pd.read_parquet(path)
    for column in ("genres", "tags"):
        if column in frame:
            frame[column] = [list(g) for g in frame[column]]
    return frame


def _meta(data: PreparedData) -> dict:
    return {
        "format_version": FORMAT_VERSION, "name": data.name, "num_users": data.num_users,
        "num_items": data.num_items, "rating_scale": list(data.rating_scale), "checksum": data.checksum,
        "split_key": data.split_key, "has_users": data.users is not None, "extras": data.extras,
    }


def _read_sidecar(cache_dir: Path | None) -> dict:
    if cache_dir is None or not (Path(cache_dir) / _SIDECAR).is_file():
        return {}
    try:
        return json.loads((Path(cache_dir) / _SIDECAR).read_text())
    except (OSError, ValueError):
        return {}


def _write_sidecar(cache_dir: Path, known: dict) -> None:
    """Replace the sidecar atomically; a failure only costs a rehash next time."""
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".checksums-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(known, fh)
        os.replace(tmp, cache_dir / _SIDECAR)
    except OSError:
        pass
