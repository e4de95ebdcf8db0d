"""`fetch_dataset` against a local HTTP server: checksum, interruption, unreachable URL, layout."""

from __future__ import annotations

import hashlib
import http.server
import io
import logging
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from recsearch.config.schema import DataConfig
from recsearch.data import fetch_dataset, load_interactions
from recsearch.errors import DataError


def _zip_of(folder: Path, top: str) -> bytes:
    """A zip whose members sit under `top/`, like the GroupLens archives."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{top}/{path.name}")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(fixtures_dir):
    """Serves /ml.zip whole and /short.zip cut off halfway through its declared length."""
    body = _zip_of(fixtures_dir / "ml-1m-mini", "ml-1M-odd-name")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if self.path == "/ml.zip" else body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hashlib.sha256(body).hexdigest()
    httpd.shutdown()
    httpd.server_close()


def _cfg(url: str, sha256: str | None) -> DataConfig:
    return DataConfig(name="ml-1m-mini", format="movielens_dat", url=url, sha256=sha256, rating_scale=[1.0, 5.0])


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_with_matching_checksum(server, tmp_path):
    base, digest = server
    target = fetch_dataset(_cfg(f"{base}/ml.zip", digest), tmp_path, progress=False)
    assert target == tmp_path / "ml-1m-mini" and (target / "ratings.dat").is_file()
    assert _leftovers(tmp_path) == ["ml-1m-mini"]
    assert len(load_interactions(_cfg("", None), tmp_path).ratings) == 30


def test_already_laid_out_needs_no_network(fixtures_dir):
    cfg = _cfg("http://127.0.0.1:9/never-used.zip", None)
    assert fetch_dataset(cfg, fixtures_dir, progress=False) == fixtures_dir / "ml-1m-mini"


def test_missing_checksum_logs_the_hash(server, tmp_path, caplog):
    base, digest = server
    with caplog.at_level(logging.WARNING):
        fetch_dataset(_cfg(f"{base}/ml.zip", None), tmp_path, progress=True)
    assert digest in caplog.text


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    base, _ = server
    with pytest.raises(DataError, match="checksum mismatch") as info:
        fetch_dataset(_cfg(f"{base}/ml.zip", "0" * 64), tmp_path, progress=False)
    assert "\n" not in str(info.value)
    assert _leftovers(tmp_path) == []


def test_interrupted_download_leaves_nothing(server, tmp_path):
    base, digest = server
    with pytest.raises(DataError, match="interrupted"):
        fetch_dataset(_cfg(f"{base}/short.zip", digest), tmp_path, progress=False)
    assert _leftovers(tmp_path) == []


def test_unreachable_url_says_what_to_place_where(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DataError) as info:
        fetch_dataset(_cfg(f"http://127.0.0.1:{port}/ml-1m.zip", None), tmp_path, progress=False)
    message = str(info.value)
    assert f"http://127.0.0.1:{port}/ml-1m.zip" in message and "download ml-1m.zip" in message
    assert f"unzip it into {tmp_path}" in message and str(tmp_path / "ml-1m-mini" / "ratings.dat") in message
    assert _leftovers(tmp_path) == []
    with pytest.raises(DataError):  # a data folder that did not exist is not left behind, empty
        fetch_dataset(_cfg(f"http://127.0.0.1:{port}/ml-1m.zip", None), tmp_path / "new" / "data", progress=False)
    assert _leftovers(tmp_path) == []


def test_synthetic_has_nothing_to_fetch(tmp_path):
    with pytest.raises(DataError, match="nothing to fetch"):
        fetch_dataset(DataConfig(name="synthetic", format="synthetic"), tmp_path)


def test_your_own_file_has_nothing_to_fetch(tmp_path):
    """`data fetch custom` used to say to download and unzip a custom.zip that does not exist."""
    with pytest.raises(DataError, match=r"your own file, there is nothing to fetch: point data.path at it"):
        fetch_dataset(DataConfig(name="custom", format="interactions", ratings_file="ratings.csv"), tmp_path)


def test_a_missing_dataset_is_downloaded_on_first_use_and_then_read_from_disk(server, tmp_path, capsys):
    """`recsearch train` on a fresh machine said "does not exist: run recsearch data fetch"; a configured dataset
    with a URL and checksum is fetched once, verified, then used from the data folder."""
    from omegaconf import OmegaConf

    from recsearch.config.schema import SplitConfig
    from recsearch.data import prepare_data

    base, digest = server
    split = OmegaConf.structured(SplitConfig)
    data = prepare_data(_cfg(f"{base}/ml.zip", digest), split, data_dir=tmp_path, cache_dir=None)
    assert sum(len(p.ratings) for p in (data.train, data.valid, data.test)) == 30
    assert "downloading it once from" in capsys.readouterr().err and _leftovers(tmp_path) == ["ml-1m-mini"]
    prepare_data(_cfg(f"{base}/gone.zip", digest), split, data_dir=tmp_path, cache_dir=None)  # no network needed
    assert "downloading" not in capsys.readouterr().err
    with pytest.raises(DataError, match=r"checksum|SHA-256"):  # a wrong checksum leaves nothing to be used
        prepare_data(_cfg(f"{base}/ml.zip", "0" * 64), split, data_dir=tmp_path / "other", cache_dir=None)
    assert _leftovers(tmp_path / "other") == []


def test_what_is_not_a_configured_download_is_never_fetched(server, tmp_path, fixtures_dir):
    """A folder the user named (data.path), their own file and a fetch that another process finished first."""
    from recsearch.data.download import _unpack, fetch_if_missing

    base, digest = server
    named = DataConfig(name="ml-1m-mini", format="movielens_dat", url=f"{base}/ml.zip", sha256=digest,
                       path=str(tmp_path / "typo"))
    fetch_if_missing(named, tmp_path)
    own = DataConfig(name="mine", format="interactions", url=f"{base}/ml.zip", sha256=digest, ratings_file="r.csv")
    fetch_if_missing(own, tmp_path)
    assert _leftovers(tmp_path) == []
    target = fetch_dataset(_cfg(f"{base}/ml.zip", digest), tmp_path, progress=False)
    zipped = tmp_path / "again.zip"  # a second fetch of the same files ends after the first: it keeps the first's
    zipped.write_bytes(_zip_of(fixtures_dir / "ml-1m-mini", "ml-1M-odd-name"))
    _unpack(zipped, target, _cfg(f"{base}/ml.zip", digest))
    assert _leftovers(tmp_path) == ["again.zip", "ml-1m-mini"] and (target / "ratings.dat").is_file()


def test_the_placement_hint_names_the_folder_the_zip_unpacks_to(tmp_path):
    """ml-10m's zip holds ml-10M100K/ (read as it is); the hint said to make ml-10m/ratings.dat."""
    from recsearch.config import compose_config
    from recsearch.data.download import placement_hint

    cfg = compose_config(["data=ml_10m"]).data
    hint = placement_hint(cfg, tmp_path / "ml-10m")
    assert f"so that {tmp_path / 'ml-10M100K' / 'ratings.dat'} exists" in hint and "holds ml-10M100K/" in hint
