"""`fetch_dataset`: download a dataset zip, verify it, and unpack it atomically into place."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from recsearch.data.movielens import MAIN_FILES
from recsearch.data.paths import dataset_dir, zip_folder
from recsearch.errors import DataError

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


def expected_files(data_cfg: Any) -> tuple[str, ...]:
    """The files whose presence means the dataset is already laid out."""
    if data_cfg.format == "interactions":
        return (str(data_cfg.ratings_file),) if data_cfg.ratings_file else ()
    return MAIN_FILES.get(str(data_cfg.format), ())


def is_laid_out(data_cfg: Any, target: Path) -> bool:
    """Whether `target` already holds every expected file (or, generic format, is the ratings file itself)."""
    names = expected_files(data_cfg)
    if not names or (data_cfg.format == "interactions" and target.is_file()):
        return target.is_file()
    return all((target / n).is_file() for n in names)


def fetch_dataset(data_cfg: Any, data_dir: Path, *, progress: bool = True) -> Path:
    """Return the dataset folder, downloading and unpacking `data.url` first if needed.

    Example: `fetch_dataset(cfg.data, resolve_data_dir(cfg.paths))`.
    """
    if data_cfg.format == "synthetic":
        raise DataError(f"dataset {data_cfg.name!r} is synthetic: it is generated, there is nothing to fetch")
    target = dataset_dir(data_cfg, data_dir)
    if is_laid_out(data_cfg, target):
        return target
    if not data_cfg.url and data_cfg.format == "interactions":  # the user's own file: nothing to download
        raise DataError(f"dataset {data_cfg.name!r} is your own file, there is nothing to fetch: point data.path at "
                        f"it (data.path=/path/to/ratings.csv), or put {expected_files(data_cfg)[0]} in {target}")
    if not data_cfg.url:
        raise DataError(f"dataset {data_cfg.name!r} has no data.url; {placement_hint(data_cfg, target)}")
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]  # removed again on failure
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".zip.part")
    zip_path = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _download(str(data_cfg.url), out, data_cfg, target, progress)
        _verify(data_cfg, digest)
        _unpack(zip_path, target, data_cfg)
    except BaseException:
        zip_path.unlink(missing_ok=True)
        for folder in made:  # innermost first: the data folders this failed fetch created, when still empty
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    zip_path.unlink(missing_ok=True)
    return target


def fetch_if_missing(data_cfg: Any, data_dir: Path) -> None:
    """Download a configured dataset on its first use (`train`, `sweep`, ...): its folder is absent and it has a
    `data.url` and `data.sha256` to verify. A folder that exists is the user's copy, used as it is (an incomplete
    one gets the loader's error naming the missing file)."""
    import sys

    if str(data_cfg.format) in ("synthetic", "interactions") or not data_cfg.url or not data_cfg.sha256 \
            or getattr(data_cfg, "path", None):  # a folder the user named: a wrong one is the loader's error
        return
    if dataset_dir(data_cfg, data_dir).exists():
        return
    print(f"recsearch: dataset {data_cfg.name} is not in {data_dir} yet: downloading it once from {data_cfg.url} "
          "(SHA-256 verified; to use a copy you have, set RECSEARCH_DATA_DIR to the folder that holds it)",
          file=sys.stderr)
    fetch_dataset(data_cfg, data_dir, progress=sys.stderr.isatty())


def placement_hint(data_cfg: Any, target: Path) -> str:
    """Which file to download from where, and where to unpack it by hand."""
    url = str(data_cfg.url or "")
    zip_name = url.rsplit("/", 1)[-1] or f"{data_cfg.name}.zip"
    first = expected_files(data_cfg)[:1]
    unpacked = zip_folder(target)  # the folder the zip holds (ml-10M100K), which recsearch reads as it is
    wanted = unpacked / first[0] if first else unpacked
    source = f" from {url}" if url else ""
    return (f"download {zip_name}{source} and unzip it into {target.parent}, so that {wanted} exists (or point "
            f"RECSEARCH_DATA_DIR, paths.data_dir, at a folder that holds {unpacked.name}/)")


def _download(url: str, out: BinaryIO, data_cfg: Any, target: Path, progress: bool) -> str:
    """Stream `url` into `out`; return the SHA-256 hex digest of what was written."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            received = _stream(resp, out, digest, total, progress, f"{data_cfg.name}")
    except http.client.IncompleteRead as exc:
        raise DataError(
            f"download of {url} was interrupted ({len(exc.partial)} bytes in the last read); "
            f"try again, or {placement_hint(data_cfg, target)}"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"could not download {url} ({reason}); {placement_hint(data_cfg, target)}") from None
    if total and received != total:
        raise DataError(
            f"download of {url} was interrupted ({received} of {total} bytes); "
            f"try again, or {placement_hint(data_cfg, target)}"
        )
    return digest.hexdigest()


def _stream(resp: Any, out: BinaryIO, digest: Any, total: int, progress: bool, label: str) -> int:
    """Copy the response body in chunks, hashing it and showing a progress bar when asked."""
    received = 0
    bar = _progress_bar(progress)
    with bar:
        task = bar.add_task(f"downloading {label}", total=total or None)
        while chunk := resp.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            bar.update(task, completed=received)
    return received


def _progress_bar(enabled: bool) -> Any:
    """A rich progress bar (disabled: drawn nowhere)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    return Progress(*columns, disable=not enabled, transient=True)


def _verify(data_cfg: Any, digest: str) -> None:
    """Compare with `data.sha256`; with none configured, log the computed hash and go on."""
    expected = (data_cfg.sha256 or "").strip().lower()
    if not expected:
        log.warning("no sha256 configured for dataset %s; the download has sha256 %s", data_cfg.name, digest)
        return
    if digest != expected:
        raise DataError(
            f"checksum mismatch for {data_cfg.url}: expected sha256 {expected}, got {digest} "
            f"(the download was discarded; if GroupLens updated the file, set data.sha256)"
        )


def _unpack(zip_path: Path, target: Path, data_cfg: Any) -> None:
    """Extract next to `target` and rename the zip's top folder (whatever its name) into place."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-unzip-"))
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                _check_members(archive, data_cfg)
                archive.extractall(staging)
        except zipfile.BadZipFile:
            raise DataError(f"{data_cfg.url} is not a valid zip archive") from None
        root = _single_top_folder(staging)
        if not is_laid_out(data_cfg, root):
            missing = ", ".join(expected_files(data_cfg))
            raise DataError(f"the archive from {data_cfg.url} does not contain {missing}")
        if is_laid_out(data_cfg, target):  # another process fetched it meanwhile (workers starting together)
            return
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        if target.exists():
            raise DataError(f"{target} exists but lacks the dataset files; remove it and fetch again")
        try:
            os.rename(root, target)
        except OSError:
            if not is_laid_out(data_cfg, target):  # not a race lost to another fetch of the same files
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_members(archive: zipfile.ZipFile, data_cfg: Any) -> None:
    """Refuse archives whose members would land outside the extraction folder."""
    for name in archive.namelist():
        if name.startswith(("/", "\\")) or ".." in Path(name).parts:
            raise DataError(f"the archive from {data_cfg.url} has an unsafe member path {name!r}")


def _single_top_folder(staging: Path) -> Path:
    """The zip's one top folder (e.g. ml-10M100K for ml-10m), or the staging folder itself."""
    entries = [p for p in staging.iterdir() if p.name != "__MACOSX"]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
