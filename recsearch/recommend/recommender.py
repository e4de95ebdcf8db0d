"""Load the model of a run or study folder, score a user's unseen items, explain with item embeddings."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from recsearch.data.types import PreparedData
from recsearch.errors import ConfigError, DataError, RecsearchError
from recsearch.recommend.profile import titles_or_ids
from recsearch.redact import redact

EMBEDDING_LAYER = "item_embedding"
KEPT_MODEL = re.compile(r"trial_(\d+)\.keras")  # a study folder's models/trial_<N>.keras
ITEM_TOWER = "item_tower"  # two_tower's item sub-model (recsearch/models/two_tower.py)


@dataclass
class LoadedModel:
    """A trained model, the config it was trained with, and where it came from."""

    model: Any
    cfg: Any
    source: str
    trained_on: dict[str, str] = field(default_factory=dict)  # its data_checksum, where recorded


def check_same_data(loaded: LoadedModel, data: PreparedData) -> None:
    """Refuse a saved model whose recorded data files differ from those `data` was read from: its user and item
    rows would stand for other users and items, and every score would be wrong without a sign of it. (Ids are
    indexed over the whole dataset, so the split does not move them.)"""
    recorded = loaded.trained_on.get("data_checksum")
    if recorded in (None, data.checksum):
        return
    own = loaded.cfg.data.get("path")
    fix = (f"put back at {own} the data it was trained on" if own else
           "point RECSEARCH_DATA_DIR (paths.data_dir) at the data it was trained on")
    raise DataError(f"{loaded.source} was trained on other data than it would be given now (the data files or a "
                    f"file beside them changed: checksum recorded {recorded[:16]}..., now {data.checksum[:16]}...), "
                    f"so its user and item indexes do not match; {fix}")


def _recorded_data(attrs: dict[str, Any]) -> dict[str, str]:
    return {"data_checksum": str(attrs["data_checksum"])} if attrs.get("data_checksum") else {}


def load_model_for(folder: Path | str, *, trial: int | None = None, data: PreparedData | None = None,
                   compile: bool = False) -> LoadedModel:
    """The model of a run folder (config.yaml + model.keras), or of a study folder's best trial (or `trial`);
    loaded for predicting, or with `compile` as `load_keras_file` says.

    A study folder's model is models/trial_<N>.keras of its best trial (the study's best now: another worker
    may have finished a better one than best.yaml names); when that was not kept, the best trial is retrained
    from its config (with `data` when given). Another completed trial's model is its kept file, or that trial
    retrained from the config it recorded. A kept models/trial_<N>.keras given as `folder` stands for its
    study folder and trial N.
    """
    if "://" in str(folder):  # Path() would fold its slashes into a misleading name
        raise RecsearchError(f"{redact(str(folder))} is a storage URL; give the run folder or the study folder (with "
                             "its best.yaml), e.g. results/default/mlp-rating")
    folder = Path(folder)
    kept_trial = KEPT_MODEL.fullmatch(folder.name)
    if folder.is_file() and kept_trial and folder.parent.name == "models" \
            and (folder.parent.parent / "best.yaml").is_file():  # a study's kept model: its study folder
        if trial is not None and trial != int(kept_trial.group(1)):
            raise RecsearchError(f"{folder} is trial {kept_trial.group(1)}'s model, not trial {trial}'s; give the "
                                 "study folder with --trial, or the model file alone")
        folder, trial = folder.parent.parent, int(kept_trial.group(1))
    elif folder.is_file():  # a study's journal or a run's model.keras: the folder it belongs to
        if not any((folder.parent / name).is_file() for name in ("best.yaml", "config.yaml")):
            raise RecsearchError(f"{folder} is a file, not a run or study folder; give the run folder (config.yaml + "
                                 "model.keras) or the study folder (with its best.yaml), e.g. results/default/mlp-rating")
        folder = folder.parent
    if (folder / "config.yaml").is_file():
        if trial is not None:
            raise RecsearchError(f"{folder} is a run folder (one model); a trial number applies to a study folder")
        if not (folder / "model.keras").is_file():
            raise RecsearchError(f"run folder {folder} has no model.keras (trained with save_model off?)")
        cfg = _with_its_data(_saved_config(folder / "config.yaml"))
        _setup_to_load(cfg)
        metrics = folder / "metrics.json"
        trained_on = _recorded_data(json.loads(metrics.read_text())) if metrics.is_file() else {}
        return LoadedModel(_load_keras(folder / "model.keras", compile), cfg, str(folder / "model.keras"), trained_on)
    if not (folder / "best.yaml").is_file():
        if (folder / "sweep.yaml").is_file():
            raise RecsearchError(f"study folder {folder} has no finished trial yet (no best.yaml); run or resume its "
                                 "sweep first")
        raise RecsearchError(f"{folder} is neither a run folder (config.yaml) nor a study folder with a best.yaml")
    from recsearch.results.study_tables import best_yaml_trial

    written = best_yaml_trial(folder)
    opened = functools.cache(lambda: _folder_study(folder))  # the study, read once (a journal, a database)
    picked = _current_best(folder, written, opened()) if trial is None else None
    number = trial if trial is not None else picked.number if picked is not None else written
    if number is None:
        raise RecsearchError(f"{folder / 'best.yaml'}: no '# Best trial N' header; was it written by a sweep?")
    if number == written:
        label, recorded = "the best trial", str(folder / "best.yaml")
        cfg = _saved_config(folder / "best.yaml")
    else:  # another completed trial, or a better one finished since best.yaml: the config it recorded
        from recsearch.reproduce.source import pick_trial, trial_config

        if picked is None:
            study, why = opened()
            if study is None:
                raise RecsearchError(f"trial {number} of {folder}: {why}, where its config is; export the trial from "
                                     f"the study's storage instead (recsearch export-best URL --study NAME --trial "
                                     f"{number} --name NAME), train it, and recommend with that run")
            picked = pick_trial(study, number)
        label = f"trial {number}" if trial is not None else f"the best trial ({number})"
        recorded = f"trial {number}'s recorded config"
        cfg = _saved_config(f"trial {number} of {folder}", lambda: trial_config(picked))
    cfg = _with_its_data(cfg)
    _setup_to_load(cfg)
    kept = folder / "models" / f"trial_{number}.keras"
    if kept.is_file() and _is_archive(kept):
        study, _ = opened()  # every trial of a study trained on its fingerprint's data
        trained_on = _recorded_data(study.user_attrs.get("fingerprint") or {}) if study is not None else {}
        return LoadedModel(_load_keras(kept, compile), cfg, str(kept), trained_on)
    why = f"{kept.name} is damaged" if kept.is_file() else f"no {kept.name} kept"
    if trial is None and number != written and written is not None and not kept.is_file():
        why += (f" here: this folder's best.yaml names trial {written}, so it finished later, perhaps in a worker "
                "that keeps its models in its own results folder")
    if kept.is_file():
        import sys

        print(f"recsearch: warning: {kept} is not a complete .keras archive; retraining {label} from {recorded}",
              file=sys.stderr)
    return LoadedModel(_retrain(cfg, data), cfg, f"retrained from {recorded} ({why})")


def _current_best(folder: Path, written: int | None, opened: tuple[Any, str]) -> Any:
    """The study's best trial now, from its storage (`opened`: `_folder_study`'s answer): another worker may have
    finished a better one since this folder's best.yaml (trial `written`) was written. None when the study cannot
    be read here: best.yaml is used then, with a warning unless the storage is a database whose password
    sweep.yaml never keeps (README)."""
    import sys

    from recsearch.results.study_tables import best_trial

    study, why = opened
    if study is None:
        if not why.startswith(REDACTED_WHY) and written is not None:
            print(f"recsearch: warning: {folder}: {why}; using best.yaml's trial {written} (a better one may have "
                  "finished since)", file=sys.stderr)
        return None
    best = best_trial(study)
    return best if best is not None and "config" in best.user_attrs else None


REDACTED_WHY = "its study is in a database whose password sweep.yaml does not keep"


def _folder_study(folder: Path) -> tuple[Any, str]:
    """(the study of a study folder, "") or (None, why it cannot be read from here). Opening never creates a
    storage: a sqlite file named relative to where the sweep ran is not looked for elsewhere."""
    from recsearch.reproduce.source import open_study
    from recsearch.results.studies import RedactedStorageError, folder_storage_url

    try:
        url = folder_storage_url(folder, command="recommend")
    except RedactedStorageError:
        return None, REDACTED_WHY
    except Exception as exc:  # a damaged sweep.yaml: recommend needs only best.yaml and models/ for the best
        return None, f"its sweep.yaml cannot be read ({type(exc).__name__})"
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None, f"its storage {url} is not there from {Path.cwd()}"
    if "://" not in url and not Path(url).is_file():
        return None, f"it has no {Path(url).name}"
    try:
        return open_study(str(folder), command="recommend").study, ""
    except Exception as exc:  # an unreadable journal, a database down: one line, as for the others
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"its study cannot be read ({redact(reason)})"


def _saved_config(path: Path | str, load: Callable[[], Any] | None = None) -> Any:
    """A run's or study's saved config (`load` reads it, by default from the file `path`); a model family
    registered by the user's own code must be registered in this process too, which the error then says."""
    from recsearch.config import load_config_file

    try:
        return load() if load is not None else load_config_file(Path(path))
    except ConfigError as exc:
        if "unknown model" not in str(exc):
            raise
        raise ConfigError(f"{path}: {exc}; in Python, import the module that registers it first (or load the "
                          ".keras file itself)") from None


def _with_its_data(cfg: Any) -> Any:
    """A recorded config pointed at the data dir that holds its dataset (`recorded_data_dir`)."""
    from recsearch.data import recorded_data_dir

    cfg.paths.data_dir = str(recorded_data_dir(cfg.data, cfg.paths))
    return cfg


def _setup_to_load(cfg: Any) -> None:
    """The config's backend for a process that has not imported Keras yet; else the loaded one (a `.keras` file
    loads on any backend, and Keras cannot switch)."""
    import sys

    from recsearch.training.backend import setup_for

    if "keras" not in sys.modules:
        setup_for(cfg)


def user_index(data: PreparedData, user_id: str | int) -> int:
    """The model's index of an original user id (given as text on the command line)."""
    ids = data.user_ids
    try:
        key = type(ids[0].item() if hasattr(ids[0], "item") else ids[0])(user_id)
    except (ValueError, IndexError):
        raise DataError(f"user {user_id!r} is not a valid user id of {data.name}") from None
    hits = np.flatnonzero(ids == key)
    if not len(hits):
        raise DataError(f"user {user_id!r} is not in the training data of {data.name} ({data.num_users} users)")
    return int(hits[0])


def recommend_items(model: Any, data: PreparedData, user: int, exclude_item_ids: set, n: int = 10, *,
                    clip: bool = True, min_ratings: int = 0) -> pd.DataFrame:
    """The `n` highest-scored items for user index `user`, skipping original item ids in `exclude_item_ids` and
    items with fewer than `min_ratings` training ratings (a rating model scores a rarely rated item high on
    little evidence).

    Returns item_index, item_id, title, genres, score (clipped to the rating scale when `clip`). RecsearchError
    when no item has `min_ratings` training ratings (an empty list would read as "nothing to recommend").
    """
    from recsearch.training.trainer import EVAL_BATCH

    if min_ratings > 0 and not well_trained_items(data, min_ratings).any():
        most = int(item_rating_counts(data).max())
        raise RecsearchError(f"min_ratings {min_ratings} (--min-ratings): no item has that many training ratings "
                             f"(the most rated has {most}); give {most} or less")

    items = np.arange(data.num_items, dtype=np.int32)
    scores = np.asarray(model.predict({"user": np.full_like(items, user), "item": items},
                                      batch_size=EVAL_BATCH, verbose=0)).reshape(-1)
    if clip:
        scores = np.clip(scores, *data.rating_scale)
    table = item_table(data).assign(score=scores)
    table = table[~table["item_id"].isin(exclude_item_ids)]
    if min_ratings > 0:
        table = table[well_trained_items(data, min_ratings)[table["item_index"].to_numpy()]]
    return table.sort_values(["score", "item_index"], ascending=[False, True], kind="stable").head(n).reset_index(drop=True)


@dataclass
class Recommendation:
    """A user's top items from a run's or study's model, and what `recommend --explain` and the profile need."""

    loaded: LoadedModel
    data: PreparedData
    raw: Any  # the dataset as loaded (Interactions): the user's own ratings, item titles
    user: int  # the user's index in `data`
    user_id: Any  # the user's original id
    rated: pd.DataFrame  # the user's ratings (item_id, rating, ...): excluded from `items`
    items: pd.DataFrame  # item_index, item_id, title, genres, score, best first


def recommend_for(target: Path | str, user: str | int, n: int = 10, *, trial: int | None = None,
                  min_ratings: int = 0) -> Recommendation:
    """The `n` best items the user has not rated, scored by the model of a run or study folder (`trial`: that
    trial's, else the best's), on the data it trained on (refused when that changed since)."""
    from recsearch.data import load_interactions, resolve_data_dir
    from recsearch.data.paths import require_recorded_data_path
    from recsearch.recommend.profile import user_ratings
    from recsearch.training.run import prepare_for

    if n < 1:
        raise RecsearchError(f"n (-n) must be at least 1, got {n}")
    if min_ratings < 0:
        raise RecsearchError(f"min_ratings (--min-ratings) must be 0 or more, got {min_ratings}")
    loaded = load_model_for(target, trial=trial)
    require_recorded_data_path(loaded.cfg.data)
    data = prepare_for(loaded.cfg)
    check_same_data(loaded, data)
    raw = load_interactions(loaded.cfg.data, resolve_data_dir(loaded.cfg.paths))
    index = user_index(data, user)
    user_id = data.user_ids[index]
    user_id = user_id.item() if hasattr(user_id, "item") else user_id  # 414 or "u170" in messages, not np.str_(...)
    rated = user_ratings(raw.ratings, user_id)
    items = recommend_items(loaded.model, data, index, set(rated["item_id"]), n,
                            clip=bool(loaded.cfg.task.clip_predictions), min_ratings=min_ratings)
    return Recommendation(loaded, data, raw, index, user_id, rated, items)


def item_table(data: PreparedData) -> pd.DataFrame:
    """item_index, item_id, title, genres of every item the model knows."""
    table = pd.DataFrame({"item_index": np.arange(data.num_items), "item_id": data.item_ids})
    for col, default in (("title", None), ("genres", None)):
        table[col] = data.items[col].to_numpy() if col in data.items else default
    table["title"] = titles_or_ids(table["title"], table["item_id"])
    table["genres"] = table["genres"].map(lambda g: list(g) if isinstance(g, (list, tuple, np.ndarray)) else [])
    return table


def item_embeddings(model: Any) -> np.ndarray | None:
    """Item vectors (num_items x dim) the model scores with, or None when it has none (AutoRec):
    the `item_embedding` layer's weights; a two-tower model's item tower over every item; or, for a model
    with several item tables (NeuMF's `gmf_item_embedding`, `mlp_item_embedding`), each table centred
    and scaled to unit length, side by side, so that each counts alike in a cosine."""
    layers = {layer.name: layer for layer in model.layers}
    if EMBEDDING_LAYER in layers:
        return np.asarray(layers[EMBEDDING_LAYER].get_weights()[0])
    tower = layers.get(ITEM_TOWER)
    if tower is not None:
        num_items = int(tower.get_layer(f"{ITEM_TOWER}_embedding").input_dim)
        return np.asarray(tower.predict(np.arange(num_items, dtype=np.int32), batch_size=8192, verbose=0))
    tables = [np.asarray(layers[name].get_weights()[0]) for name in sorted(layers)
              if name.endswith(f"_{EMBEDDING_LAYER}")]
    return np.concatenate([centred_unit(t) for t in tables], axis=1) if tables else None


def centred_unit(embeddings: np.ndarray) -> np.ndarray:
    """Item embeddings minus the mean item embedding, scaled to unit length.

    Raw embeddings share a large common component (the average item), so raw cosines of a small embedding
    are all close to 1; after centring, the cosine compares how items differ from the average item.
    """
    centred = embeddings - embeddings.mean(axis=0, keepdims=True)
    return centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)


def item_similarities(embeddings: np.ndarray, items: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Cosine similarities (len(items) x len(others)) of item indices on centred, normalised embeddings."""
    unit = centred_unit(np.asarray(embeddings, dtype=np.float64))
    return unit[np.asarray(items)] @ unit[np.asarray(others)].T


MIN_ITEM_RATINGS = 10


def well_trained_items(data: PreparedData, min_ratings: int = MIN_ITEM_RATINGS) -> np.ndarray:
    """A mask of the items with at least `min_ratings` training ratings.

    An item rated only a few times keeps an embedding close to its random start, so its similarities are
    noise: it is neither explained nor used as an explanation.
    """
    return item_rating_counts(data) >= min_ratings


def item_rating_counts(data: PreparedData) -> np.ndarray:
    """Training ratings per item index."""
    return np.bincount(data.train.items, minlength=data.num_items)


def similar_past_items(embeddings: np.ndarray, recommended: pd.DataFrame, past: pd.DataFrame, k: int = 3, *,
                       eligible: np.ndarray | None = None) -> dict[int, pd.DataFrame]:
    """For each recommended item_index, the `k` past items (item_index, title, rating, ...) most similar to it.

    Similarity: cosine on centred, normalised item embeddings (`item_similarities`), in [-1, 1]; `rank` is
    the past item's place among all `eligible` items by similarity to the recommended one (1 = most similar).
    Only `eligible` items (default: all) explain or are explained; an ineligible recommendation gets no rows.
    Returns {item_index: past rows with `similarity` and `rank` columns, most similar first}.
    """
    eligible = np.ones(len(embeddings), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    past = past[eligible[past["item_index"].to_numpy()]].reset_index(drop=True)
    pool = np.flatnonzero(eligible)
    out = {}
    for idx in recommended["item_index"].to_numpy():
        if not eligible[idx]:
            out[int(idx)] = past.iloc[0:0].assign(similarity=[], rank=[])
            continue
        to_pool = item_similarities(embeddings, [idx], pool[pool != idx])[0]
        sims = item_similarities(embeddings, [idx], past["item_index"].to_numpy())[0]
        order = np.argsort(-sims, kind="stable")[:k]
        ranks = [int((to_pool > sims[j]).sum()) + 1 for j in order]
        out[int(idx)] = past.iloc[order].assign(similarity=sims[order], rank=ranks).reset_index(drop=True)
    return out


def load_keras_file(path: Path, compile: bool = False) -> Any:
    """A saved `.keras` model, loadable in any process: recsearch's layers registered first; without compiling
    (for predicting), or with `compile` compiled as it trained, its optimizer's state restored (to train on; its
    metrics registered too). In a process where Keras is not imported yet, it starts on recsearch's default
    backend (JAX; a `.keras` file loads on any backend)."""
    import sys

    if "keras" not in sys.modules:
        from recsearch.training.backend import setup_backend

        setup_backend("jax")
    return _load_keras(Path(path), compile)


def _load_keras(path: Path, compile: bool = False) -> Any:
    import keras

    from recsearch.models import register_layers

    register_layers()  # the custom layers of every model family, before Keras deserializes them
    if compile:  # the metrics compile_model gives a model, registered when their module is imported
        import importlib

        importlib.import_module("recsearch.training.keras_metrics")

    if path.is_file() and path.suffix == ".keras" and not _is_archive(path):  # Keras would say "File not found"
        raise RecsearchError(f"cannot load {path}: not a complete .keras archive ({path.stat().st_size:,} bytes: cut "
                             "short or damaged, e.g. by a full disk); delete it and retrain (`recsearch reproduce` or "
                             "`recsearch train`)")
    try:
        model = keras.saving.load_model(path, compile=compile)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad archive
        raise RecsearchError(f"cannot load {path}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    if compile and getattr(model, "optimizer", None) is None:
        raise RecsearchError(f"{path} was saved without a training setup to compile it with (ranking and AutoRec "
                             "models train inside a wrapper model, which is not saved); load it with compile=False "
                             "and compile it yourself")
    return model


def _is_archive(path: Path) -> bool:
    """Whether a `.keras` file is a whole zip archive (a write cut short leaves one without its directory)."""
    import zipfile

    return zipfile.is_zipfile(path)


def _retrain(cfg: Any, data: PreparedData | None) -> Any:
    from recsearch.data.paths import require_recorded_data_path
    from recsearch.training.run import prepare_for
    from recsearch.training.trainer import train

    if data is None:
        require_recorded_data_path(cfg.data)

    return train(cfg, data if data is not None else prepare_for(cfg), verbose=0).model
