"""Find studies: study folders under results/, or studies held by an Optuna storage (RDB URL or journal file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from recsearch.errors import ConfigError, DataError, RecsearchError

SWEEP_FILE = "sweep.yaml"
BASELINES_FILE = "baselines.csv"
COMPARISON_FILES = "comparison*.csv"  # comparison.csv, and comparison-NAME.csv of each named set (search/compare.py)
BASELINE_COLUMNS = ("variant", "task", "metric", "valid", "test")
SEARCH_DEPTH = 4  # folders below a given root searched for studies: <root>/results/<experiment>/<study> is 3
SKIPPED_FOLDERS = frozenset({"runs", "__pycache__", "node_modules", "site-packages"})


@dataclass
class StudyRecord:
    """One Optuna study and what the leaderboard and report need to know about it.

    `storage_url` is for display: any password in it is replaced by *** (see `make_record`). `data_suffix` tells
    its data apart from other studies' of the same `data_label` (`told_apart`).
    """

    study: Any
    storage_url: str
    experiment: str
    folder: Path | None
    config: dict = field(default_factory=dict)
    data_suffix: str = ""

    @property
    def name(self) -> str:
        return self.study.study_name

    @property
    def variant(self) -> str:
        return str(self.config.get("model", {}).get("name", "?"))

    @property
    def task(self) -> str:
        return str(self.config.get("task", {}).get("name", "?"))

    @property
    def data(self) -> str:
        """The dataset and split the study ran on (`data_label`): results on different data are ranked apart."""
        return data_label(self.config) + self.data_suffix

    @cached_property
    def data_identity(self) -> tuple[str, str]:
        """(data checksum, split key) the study's trials ran on, as its sweep recorded them ("" when not)."""
        recorded = self.study.user_attrs.get("fingerprint") or {}
        return str(recorded.get("data_checksum") or ""), str(recorded.get("split_key") or "")

    @property
    def metric(self) -> str:
        return str(self.config.get("task", {}).get("metric", "rmse"))

    @property
    def objective_labels(self) -> list[str]:
        """Names of the study's objectives: the validation metric, then `search.objectives` (params, latency)."""
        extra = list((self.config.get("search") or {}).get("objectives") or [])
        names = [f"validation {self.metric}", *extra]
        n = len(self.study.directions)
        return names[:n] + [f"objective {i}" for i in range(len(names), n)]

    @property
    def direction(self) -> str:
        return self.study.directions[0].name.lower()


def data_label(config: Mapping[str, Any]) -> str:
    """The dataset and split of a config (as a dict), e.g. `ml-latest-small/random` (`?` when not recorded).
    Synthetic data is named by its size (and seed when not 0), a custom file by its folder or file name:
    `synthetic-50000/random`, `custom:shop/temporal`."""
    data_cfg = config.get("data") or {}
    data, split = data_cfg.get("name"), (config.get("split") or {}).get("method")
    generated = data_cfg.get("synthetic") if data_cfg.get("format") == "synthetic" else None
    if data and isinstance(generated, dict) and generated.get("n_ratings") is not None:
        data = f"{data}-{generated['n_ratings']}" + (f"-seed{generated['seed']}" if generated.get("seed") else "")
    elif data == "custom" and data_cfg.get("path"):
        data = f"{data}:{Path(str(data_cfg['path'])).name}"
    return f"{data}/{split}" if data and split else str(data or "?")


TOLD_APART = r" \((?:data \w{1,6}(?:, split \w{1,6})?|split \w{1,6})\)"  # the suffix told_apart adds


def told_apart(records: list[StudyRecord]) -> list[StudyRecord]:
    """`records`, those whose `data_label` is shared by studies on other data or another split of it given a
    `data_suffix` of what differs, e.g. `custom:a.csv/random (data 3f2a1c)` beside `custom:a.csv/random (data
    9b0e4d)`, `.../random (split 5d1c2a)` for other split ratios or seed: the leaderboard ranks them apart."""
    from dataclasses import replace

    seen: dict[str, set[tuple[str, str]]] = {}
    for record in records:
        if all(record.data_identity):
            seen.setdefault(data_label(record.config), set()).add(record.data_identity)
    out = []
    for record in records:
        identities = seen.get(data_label(record.config), set())
        checksum, split = record.data_identity
        if len(identities) < 2 or not (checksum and split):
            out.append(record)
            continue
        parts = [f"data {checksum[:6]}"] if len({c for c, _ in identities}) > 1 else []
        if len({s for c, s in identities if c == checksum}) > 1:
            parts.append(f"split {split[:6]}")
        out.append(replace(record, data_suffix=f" ({', '.join(parts)})" if parts else ""))
    return out


def is_storage(target: str) -> bool:
    """True for an RDB URL or a journal file; False for a folder."""
    return "://" in target or Path(target).is_file()


class NoStudyReadable(RecsearchError):
    """Every study folder a scan found was skipped (each said why on stderr); a leaderboard of baselines goes on."""


class RedactedStorageError(ConfigError):
    """A study folder's sweep.yaml names an RDB storage whose password was redacted on write."""


def make_record(study: Any, url: str, experiment: str, folder: Path | None, config: dict) -> StudyRecord:
    """A StudyRecord whose storage_url has any password redacted (records are printed and put in reports)."""
    from recsearch.redact import redact

    return StudyRecord(study=study, storage_url=redact(str(url)), experiment=experiment, folder=folder, config=config)


def folder_storage_url(folder: Path, *, command: str = "leaderboard") -> str:
    """The storage URL of a study folder: its study.journal, else the RDB URL its sweep.yaml names.

    sweep.yaml stores RDB URLs with the password redacted (user:***@host); such a URL cannot connect, so
    RedactedStorageError says to pass the full storage URL (to `recsearch COMMAND`) instead. A journal study's
    trials are in the folder's own study.journal and nowhere else: the journal path sweep.yaml recorded is
    relative to where the sweep ran, so it is never followed (from elsewhere it names another study's file).
    The returned journal path may not exist: callers say so.
    """
    from omegaconf import OmegaConf

    from recsearch.storage import JOURNAL

    folder = Path(folder)
    if (folder / JOURNAL).is_file():
        return str(folder / JOURNAL)
    sweep = folder / SWEEP_FILE
    doc = OmegaConf.to_container(OmegaConf.load(sweep)) if sweep.is_file() else {}
    url = str(doc.get("storage") or "")
    if "://" not in url:
        return str(folder / JOURNAL)
    if "***" in url:
        name = recorded_study_name(folder, doc.get("config") or {})
        study = {"worker": f" {name}", "dashboard": ""}.get(command, f" --study {name}")
        raise RedactedStorageError(
            f"study folder {folder}: its storage URL {url} is redacted (sweep.yaml never holds the password); "
            f"pass the full storage URL as the argument: `recsearch {command} 'postgresql://user:PASSWORD@host/db'"
            f"{study}`")
    return url


def find_study_folders(root: Path) -> list[Path]:
    """Study folders (holding sweep.yaml) at or under `root`, sorted."""
    root = Path(root)
    if (root / SWEEP_FILE).is_file():
        return [root]
    return sorted(p.parent for p in files_under(root, SWEEP_FILE))


def files_under(root: Path, name: str, depth: int = SEARCH_DEPTH) -> list[Path]:
    """Files called `name` at most `depth` folders below `root`, not inside study folders (their models and
    trial logs), hidden folders, train multiruns (`runs`) or package trees: `leaderboard ~` or `report /tmp`
    looks where studies are written instead of walking the whole tree. Unreadable folders are skipped."""
    import os

    found = []
    base = len(Path(root).parts)
    for folder, subfolders, files in os.walk(root):
        if name in files:
            found.append(Path(folder) / name)
        if len(Path(folder).parts) - base >= depth or SWEEP_FILE in files:
            subfolders.clear()
        else:
            subfolders[:] = [d for d in subfolders if not d.startswith(".") and d not in SKIPPED_FOLDERS]
    return found


def load_study_folder(folder: Path, *, command: str = "leaderboard") -> StudyRecord:
    """The study of a study folder, opened from its journal (or the RDB storage its sweep.yaml names); a folder
    copied or renamed elsewhere opens as well, since the study's name comes from what the sweep recorded."""
    import optuna

    from recsearch.redact import redact
    from recsearch.storage import JOURNAL, open_storage

    folder = Path(folder)
    config = _sweep_config(folder)
    url = folder_storage_url(folder, command=command)
    if "://" not in url and not Path(url).is_file():
        raise RecsearchError(f"study folder {folder} has no {JOURNAL} (the file that holds its trials); copy the "
                             "study folder with it, or pass the journal file itself")
    require_existing_database(url)
    storage = open_storage(url, setting="storage")
    names = [s.study_name for s in storage.get_all_studies()]
    recorded = recorded_study_name(folder, config)
    own_journal = "://" not in url and len(names) == 1  # a journal holds its folder's study alone
    name = recorded if recorded in names else folder.name if folder.name in names else names[0] if own_journal else ""
    if not name:
        raise RecsearchError(f"storage {redact(url)} has no study {recorded!r} (the study of {folder}); it holds: "
                             f"{', '.join(names) or 'none'}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=storage)
    experiment = config.get("experiment") or folder.parent.name
    return make_record(study, url, str(experiment), folder, config)


def recorded_study_name(folder: Path, config: dict | None = None) -> str:
    """The name of the study a folder's sweep ran: `search.study_name`, else the sweep's default <model>-<task>,
    else the folder's name."""
    from recsearch.storage import default_study_name

    if config is None:
        try:
            config = _sweep_config(folder)
        except Exception:  # noqa: BLE001 - an unreadable sweep.yaml is reported when the study is loaded
            return Path(folder).name
    search, model, task = config.get("search") or {}, config.get("model") or {}, config.get("task") or {}
    if search.get("study_name"):
        return str(search["study_name"])
    return default_study_name(model["name"], task["name"]) if model.get("name") and task.get("name") \
        else Path(folder).name


def _sweep_config(folder: Path) -> dict:
    """The composed config a study folder's sweep.yaml recorded; a folder without one is refused."""
    from omegaconf import OmegaConf

    sweep = Path(folder) / SWEEP_FILE
    if not sweep.is_file():
        raise RecsearchError(_not_a_study_folder(Path(folder)))
    return OmegaConf.to_container(OmegaConf.load(sweep)).get("config") or {}


def _not_a_study_folder(folder: Path) -> str:
    """Why `folder` is not a study folder, and which study folders it holds when it is an experiment folder."""
    inside = find_study_folders(folder) if folder.is_dir() else []
    if inside:
        shown = ", ".join(str(f) for f in inside[:5]) + (f" and {len(inside) - 5} more" if len(inside) > 5 else "")
        count = "1 study" if len(inside) == 1 else f"{len(inside)} studies"
        return f"{folder} is not a study folder but holds {count} ({shown}); pass one of them"
    return f"{folder} is not a study folder (no {SWEEP_FILE}); run `recsearch sweep` first"


def load_storage(url: str, study_name: str | None = None, *, single: bool = False) -> list[StudyRecord]:
    """The studies of a storage (all, or the one named); `single` demands exactly one."""
    from recsearch.redact import redact
    from recsearch.storage import open_storage

    require_existing_database(url)
    storage = open_storage(url, setting="storage")
    names = [s.study_name for s in storage.get_all_studies()]
    shown = redact(url)
    if not names:
        raise RecsearchError(f"storage {shown} holds no study")
    if study_name is not None:
        if study_name not in names:
            raise RecsearchError(f"storage {shown} has no study {study_name!r}; it holds: {', '.join(names)}")
        names = [study_name]
    elif single and len(names) > 1:
        raise RecsearchError(f"storage {shown} holds {len(names)} studies ({', '.join(names)}); choose one with --study")
    return [_record_from_storage(url, storage, name) for name in names]


def load_target(target: str, study_name: str | None = None, *, command: str = "leaderboard") -> StudyRecord:
    """One study: a study folder, or a storage URL / journal file (with `study_name` if it holds several); a study
    folder's own study.journal stands for the folder (reports and reproduce tables are written there)."""
    target = _study_folder_of_journal(target)
    if is_storage(target):
        return load_storage(target, study_name, single=True)[0]
    path = Path(target)
    if not path.is_dir():
        raise RecsearchError(f"{target}: no such study folder, journal file or storage URL")
    record = load_study_folder(path, command=command)
    if study_name is not None and study_name != record.name:
        raise RecsearchError(f"{target} is the folder of study {record.name!r}, not {study_name!r}; drop the study "
                             "name or pass that study's folder")
    return record


def load_many(targets: list[str], study_name: str | None = None, *,
              command: str = "leaderboard") -> list[StudyRecord]:
    """Every study under the folders (or in the storages) of `targets`.

    A study folder whose sweep.yaml holds a redacted RDB URL is skipped with a one-line warning on stderr
    (the other studies are still listed); pass that storage's full URL as a target to include it. So is any
    study folder found under a target that cannot be read (a named study folder raises instead).
    """
    import sys

    from recsearch.redact import redact

    records: list[StudyRecord] = []
    names: list[str] = []  # of the study folders found, for a `study_name` that matches none
    skipped: list[Exception] = []  # study folders found by the scan that could not be read (each said on stderr)
    for target in targets:
        target = _study_folder_of_journal(target)
        if is_storage(target):
            records += load_storage(target, study_name)
            continue
        if not Path(target).is_dir():
            raise RecsearchError(f"{redact(target)}: no such results folder or storage")
        folders = find_study_folders(Path(target))
        scanned = folders != [Path(target)]  # found under the target, not named by the user
        if study_name is not None:  # by the study's recorded name, or its folder's (a renamed copy keeps both)
            recorded = {folder: recorded_study_name(folder) for folder in folders}
            names += list(recorded.values())
            folders = [folder for folder in folders if study_name in (folder.name, recorded[folder])]
        for folder in folders:
            try:
                records.append(load_study_folder(folder, command=command))
            except RedactedStorageError as exc:
                if not scanned:  # the folder the user named: its way out, not a skip and "no study found"
                    raise
                print(f"warning: skipped {exc}", file=sys.stderr)
                skipped.append(exc)
            except Exception as exc:  # noqa: BLE001 - one unreadable study found by the scan hides no other
                if not scanned:
                    raise
                print(f"warning: skipped {folder}: {' '.join(str(exc).split())[:200]}", file=sys.stderr)
                skipped.append(exc)
    if skipped and not records:
        in_db = sum(isinstance(exc, RedactedStorageError) for exc in skipped)
        way = (f"; {'their' if len(skipped) > 1 else 'its'} trials are in a database: pass its full storage URL, "
               f"e.g. `recsearch {command} 'postgresql://user:PASSWORD@host/db'`" if in_db == len(skipped) else
               "; the warnings above say why")
        raise NoStudyReadable(f"no study under {', '.join(redact(t) for t in targets)} could be read: "
                              f"{len(skipped)} study folder{'s' if len(skipped) > 1 else ''} skipped{way}")
    if study_name is not None and not records:
        listed = ", ".join(sorted(set(names))[:20]) or "none"
        raise RecsearchError(f"no study named {study_name!r} under {', '.join(redact(t) for t in targets)} "
                             f"(studies there: {listed})")
    unique: dict[tuple[str, str], StudyRecord] = {}
    for record in records:  # a study reached twice (`r1` and `./r1`, a folder and one inside it) is listed once
        unique.setdefault(_identity_key(record), record)
    return list(unique.values())


def _looks_like_journal(path: Path) -> bool:
    """An Optuna journal's records are JSON objects with an `op_code`: one in its first 64 KiB (or an empty file,
    a new journal), even behind a torn first line, which the journal reader recovers from; anything else passed
    as a storage would be read as a journal of unreadable records."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    return not head.strip() or b'"op_code":' in head


def _study_folder_of_journal(target: str) -> str:
    """A file of a study folder, its study.journal or one of its tables (best.yaml), stands for the folder (its
    experiment, sweep.yaml and tables). Another YAML file, or any file that is no journal, is refused here,
    before it could be read as a journal of unreadable records."""
    path = Path(target)
    if "://" in target or not path.is_file():
        return target
    if is_study_file(path):
        return str(path.parent)
    if path.suffix.lower() in (".yaml", ".yml"):
        raise RecsearchError(f"{target} is a YAML file, not a study folder, journal file or storage URL (an exported "
                             "experiment is run with `recsearch train +experiment=NAME`, and `recsearch reproduce` "
                             "takes its file or name)")
    if not _looks_like_journal(path):
        raise RecsearchError(f"{target} is a file, but not a study folder, journal file or storage URL; pass a "
                             "results folder, a study folder, its study.journal or a storage URL")
    return target


def is_study_file(path: Path) -> bool:
    """Whether `path` is a study folder's journal or a YAML table of it (best.yaml, sweep.yaml)."""
    from recsearch.storage import JOURNAL

    path = Path(path)
    return ((path.name == JOURNAL or path.suffix.lower() in (".yaml", ".yml")) and path.is_file()
            and (path.parent / SWEEP_FILE).is_file())


def _identity_key(record: StudyRecord) -> tuple[str, str]:
    """What makes two records one study: its storage (a folder or journal resolved, an RDB URL as given) and
    its name."""
    where = record.folder if record.folder is not None else record.storage_url
    return (record.storage_url if "://" in record.storage_url else str(Path(where).resolve()), record.name)


def baseline_files(targets: list[str]) -> list[Path]:
    """baselines.csv files at or under the folders of `targets`."""
    found: set[Path] = set()
    for target in targets:
        root = Path(target)
        if root.is_dir():
            found.update(files_under(root, BASELINES_FILE))
    return sorted(found)


def read_baselines(path: Path) -> pd.DataFrame:
    """baselines.csv (variant, task, metric, valid, test) with `experiment` = its folder's name."""
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in BASELINE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(BASELINE_COLUMNS)}")
    for col in ("valid", "test"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = frame[col][values.isna() & frame[col].notna()]
        if len(bad):
            raise DataError(f"{path}: column {col!r} has a non-numeric value {bad.iloc[0]!r} (line {bad.index[0] + 2})")
        frame[col] = values.astype(float)
    frame = frame[list(BASELINE_COLUMNS)].copy()
    frame.insert(0, "experiment", Path(path).parent.name)
    return frame


def _record_from_storage(url: str, storage: Any, name: str) -> StudyRecord:
    """A storage's study; its config from the trials' `config` attr (no sweep.yaml there)."""
    import optuna

    study = optuna.load_study(study_name=name, storage=storage)
    config = _trial_config(study)
    experiment = config.get("experiment") or ("default" if config else "-")  # as its sweep named its folder
    return make_record(study, url, str(experiment), None, config)


def _trial_config(study: Any) -> dict:
    from omegaconf import OmegaConf

    for trial in study.get_trials(deepcopy=False):
        if "config" in trial.user_attrs:
            return OmegaConf.to_container(OmegaConf.create(trial.user_attrs["config"]))
    return {}


def dashboard_storage(target: str) -> tuple[str, Any]:
    """The storage URL (password redacted, for display) of a study folder / journal file / RDB URL, and the
    opened storage."""
    from recsearch.redact import redact
    from recsearch.storage import open_storage

    target = url = _study_folder_of_journal(target)  # a study folder's own file: the folder; a file that is no
    if not is_storage(target):  # journal is refused
        sweep = Path(target) / SWEEP_FILE
        if Path(target).is_dir() and not sweep.is_file():
            raise RecsearchError(_not_a_study_folder(Path(target)))
        if not sweep.is_file():
            raise RecsearchError(f"{target}: not a study folder (no {SWEEP_FILE}), journal file or storage URL")
        url = folder_storage_url(Path(target), command="dashboard")
        if "://" not in url and not Path(url).is_file():
            raise RecsearchError(f"storage {url} of {target} does not exist")
    require_existing_database(url)
    return redact(url), open_storage(url, setting="storage")


def require_existing_database(url: str) -> None:
    """Refuse an SQLite URL whose database file is not there: opening it would create an empty database (a typo
    in the path gave an empty dashboard and a new file) where the reading commands want an existing study."""
    if not url.startswith("sqlite"):
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # open_storage says what is wrong with the URL
    database = parsed.database
    if not database or database == ":memory:" or str(parsed.query.get("uri", "")).lower() == "true":
        return  # in memory, or SQLite's own `file:` URI form
    if not Path(database).is_file():
        raise RecsearchError(f"{url}: no such database file ({Path(database).resolve()}); pass the URL of the file "
                             "the sweep wrote (sqlite:///relative/path.db or sqlite:////absolute/path.db)")
