"""`recsearch recommend`: top-N unseen items of a real ml-latest-small model and the user's profile."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsearch.cli import main

ML = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "ml-latest-small"
SMALL_MODEL = ["model.depth=1", "model.width=16", "model.embedding_dim=8", "train.epochs=1", "train.batch_size=2048"]


def raw_files(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = data_dir / "ml-latest-small"
    return pd.read_csv(folder / "ratings.csv"), pd.read_csv(folder / "movies.csv")


@pytest.fixture(scope="module")
def ml_run(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> tuple[Path, Path]:
    """A run folder trained 1 epoch on ml-latest-small; returns (run folder, data dir)."""
    import os

    from recsearch.config import compose_config
    from recsearch.runs import run_training

    data_dir = Path(os.environ["RECSEARCH_DATA_DIR"])
    results = tmp_path_factory.mktemp("ml-run")
    cfg = compose_config(["data=ml_latest_small", *SMALL_MODEL, f"paths.results_dir={results}",
                          f"paths.cache_dir={shared_cache}", f"paths.data_dir={data_dir}"])
    return run_training(cfg).run_dir, data_dir


def test_recommendations_exclude_rated_items_and_profile_matches_pandas(ml_run, capsys):
    from recsearch.data import load_interactions, resolve_data_dir
    from recsearch.recommend import load_model_for, recommend_items, user_profile
    from recsearch.recommend.recommender import user_index
    from recsearch.training.run import prepare_for

    run_dir, data_dir = ml_run
    ratings, movies = raw_files(data_dir)
    loaded = load_model_for(run_dir)
    data = prepare_for(loaded.cfg)
    for user in (1, 414):
        rated = set(ratings.loc[ratings["userId"] == user, "movieId"])
        recs = recommend_items(loaded.model, data, user_index(data, str(user)), rated, 10)
        assert len(recs) == 10 and not set(recs["item_id"]) & rated
        assert recs["score"].is_monotonic_decreasing and recs["score"].between(0.5, 5.0).all()
        titles = movies.set_index("movieId")["title"]
        assert recs["title"].tolist() == titles.loc[recs["item_id"]].tolist()

        raw = load_interactions(loaded.cfg.data, resolve_data_dir(loaded.cfg.paths))
        profile = user_profile(raw.ratings, raw.items, user)
        mine = ratings[ratings["userId"] == user].merge(movies, on="movieId")
        assert profile.n_ratings == len(mine) and profile.mean_rating == pytest.approx(mine["rating"].mean())
        exploded = mine.assign(genre=mine["genres"].str.split("|")).explode("genre")
        exploded = exploded[exploded["genre"] != "(no genres listed)"]
        expected = exploded.groupby("genre")["rating"].agg(["count", "mean"])
        got = profile.genres.set_index("genre")
        assert sorted(got.index) == sorted(expected.index)
        assert (got["count"] == expected.loc[got.index, "count"]).all()
        np.testing.assert_allclose(got["mean"], expected.loc[got.index, "mean"])
        assert profile.top_items["rating"].iloc[0] == mine["rating"].max()


def test_recommend_command_prints_items_profile_and_explanations(ml_run, capsys):
    from recsearch.recommend import load_model_for
    from recsearch.recommend.recommender import recommend_items, user_index
    from recsearch.training.run import prepare_for

    run_dir, data_dir = ml_run
    ratings, movies = raw_files(data_dir)
    code = main(["recommend", str(run_dir), "--user", "1", "-n", "5", "--explain"])
    out = capsys.readouterr().out
    assert code == 0
    assert not [line for line in out.splitlines() if line.endswith(" ")]  # piped: tables not padded to a width
    loaded = load_model_for(run_dir)
    data = prepare_for(loaded.cfg)
    recs = recommend_items(loaded.model, data, user_index(data, "1"),
                           set(ratings.loc[ratings["userId"] == 1, "movieId"]), 5)
    flat = " ".join(out.split())
    for movie_id in recs["item_id"]:
        assert f" {movie_id} " in flat
    n = (ratings["userId"] == 1).sum()
    assert f"User 1: {n} ratings, mean rating {ratings.loc[ratings['userId'] == 1, 'rating'].mean():.2f}" in flat
    assert "Ratings per genre" in flat and "Top-rated items" in flat and "similar" in flat
    assert re.search(r"\(-?[01]\.\d\d, #\d+, [0-5](\.5)?\)", flat) or "too few ratings to explain" in flat


def test_min_ratings_recommends_only_items_rated_often_enough_and_they_are_explained(ml_run, capsys):
    """--min-ratings 10: every recommended item has 10+ training ratings, so --explain explains each of them."""
    from recsearch.recommend import load_model_for
    from recsearch.recommend.recommender import recommend_items, user_index, well_trained_items
    from recsearch.training.run import prepare_for

    run_dir, data_dir = ml_run
    ratings, _ = raw_files(data_dir)
    loaded = load_model_for(run_dir)
    data = prepare_for(loaded.cfg)
    seen = set(ratings.loc[ratings["userId"] == 414, "movieId"])
    recs = recommend_items(loaded.model, data, user_index(data, "414"), seen, 10, min_ratings=10)
    assert len(recs) == 10 and well_trained_items(data, 10)[recs["item_index"].to_numpy()].all()
    unfiltered = recommend_items(loaded.model, data, user_index(data, "414"), seen, 10)
    assert recs["score"].iloc[0] <= unfiltered["score"].iloc[0]
    assert main(["recommend", str(run_dir), "--user", "414", "-n", "10", "--min-ratings", "10", "--explain"]) == 0
    assert "too few ratings to explain" not in capsys.readouterr().out
    assert main(["recommend", str(run_dir), "--user", "414", "--min-ratings", "-1"]) == 2
    assert "min_ratings (--min-ratings) must be 0 or more, got -1" in capsys.readouterr().err
    most = int(np.bincount(data.train.items).max())  # above any item's count: one line, not an empty table
    assert main(["recommend", str(run_dir), "--user", "414", "--min-ratings", str(most + 1)]) == 2
    assert f"no item has that many training ratings (the most rated has {most}); give {most} or less" in \
        capsys.readouterr().err


def test_explanations_are_nearest_past_items_by_centred_cosine():
    from recsearch.recommend import similar_past_items

    emb = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [-1.0, 0.0]])
    recs = pd.DataFrame({"item_index": [0]})
    past = pd.DataFrame({"item_index": [1, 2, 3], "title": ["b", "c", "d"], "rating": [3.0, 4.0, 5.0]})
    near = similar_past_items(emb, recs, past, k=2)[0]
    centred = emb - emb.mean(axis=0)  # by hand: minus the mean item vector, then cosine
    expected = centred[0] @ centred[2] / np.linalg.norm(centred[0]) / np.linalg.norm(centred[2])
    assert near["title"].tolist() == ["c", "b"]
    assert near["similarity"].iloc[0] == pytest.approx(expected)
    assert expected != pytest.approx(0.9 / np.hypot(0.9, 0.1))  # not the raw cosine


def test_a_shared_offset_does_not_make_every_item_similar():
    """Embeddings = one large common vector + item-specific parts (what training often gives): raw cosines are
    all about 1 and rank nothing; centred cosines recover which items are alike."""
    from recsearch.recommend.recommender import item_similarities

    rng = np.random.default_rng(0)
    own = rng.normal(size=(50, 8))
    own[1] = own[0] + 0.1 * rng.normal(size=8)  # item 1 is item 0's near twin
    emb = np.full(8, 20.0) + own
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    raw = unit[1:] @ unit[0]
    assert (raw > 0.98).all()  # the old explanation: no signal
    sims = item_similarities(emb, [0], np.arange(1, 50))[0]
    assert sims.argmax() == 0 and sims[0] > 0.9  # the twin first
    assert np.median(sims) < 0.3 and sims.min() < -0.3


def test_rarely_rated_items_neither_explain_nor_are_explained():
    from recsearch.recommend import similar_past_items

    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.05]])
    eligible = np.array([True, False, True, True, False])
    recs = pd.DataFrame({"item_index": [0, 4]})
    past = pd.DataFrame({"item_index": [1, 2, 3], "title": ["b", "c", "d"], "rating": [3.0, 4.0, 5.0]})
    near = similar_past_items(emb, recs, past, k=2, eligible=eligible)
    assert "b" not in near[0]["title"].tolist() and len(near[0]) == 2
    assert near[0]["rank"].tolist() == [1, 2]  # c and d are the only other eligible items
    assert near[4].empty


def test_similar_items_of_a_popular_movie_are_not_all_near_one(ml_run):
    """On the real model: the 10 items most similar to the most-rated movie spread, not all at 0.98-1.00."""
    from recsearch.recommend import load_model_for
    from recsearch.recommend.recommender import item_embeddings, item_similarities, well_trained_items
    from recsearch.training.run import prepare_for

    run_dir, data_dir = ml_run
    ratings, _ = raw_files(data_dir)
    popular = ratings["movieId"].value_counts().index[0]  # Forrest Gump (356) in ml-latest-small
    loaded = load_model_for(run_dir)
    data = prepare_for(loaded.cfg)
    idx = int(np.flatnonzero(data.item_ids == popular)[0])
    pool = np.flatnonzero(well_trained_items(data))
    assert idx in pool and 500 < len(pool) < data.num_items
    sims = item_similarities(item_embeddings(loaded.model), [idx], pool[pool != idx])[0]
    top = np.sort(sims)[::-1][:10]
    assert not ((top >= 0.98) & (top <= 1.0)).all(), top
    assert sims.min() < 0 < sims.max() and sims.std() > 0.1 and np.all(np.abs(sims) <= 1 + 1e-9)


def test_model_without_item_embedding_is_reported():
    import keras

    from recsearch.recommend.recommender import item_embeddings

    inp = keras.Input(shape=(2,))
    assert item_embeddings(keras.Model(inp, keras.layers.Dense(1, name="other")(inp))) is None


def test_study_folder_uses_kept_model_or_retrains(tmp_path, tiny, capsys):
    from recsearch.recommend import load_model_for
    from recsearch.search.sweep import run_sweep

    kept = run_sweep([*tiny, "search.n_trials=2", "search.study_name=kept"], show_progress=False).folder
    loaded = load_model_for(kept)
    assert loaded.source.endswith(".keras") and "models/trial_" in loaded.source
    trained = load_model_for(kept, compile=True).model.optimizer  # a kept model carries its optimizer's state
    assert len(trained.variables) > 2 and int(trained.iterations) > 0
    assert load_model_for(kept / "study.journal").source == loaded.source  # the journal names its study folder
    bare = run_sweep([*tiny, "search.n_trials=1", "search.study_name=bare", "search.keep_models=0"],
                     show_progress=False).folder
    assert not list((bare / "models").glob("*.keras")) if (bare / "models").exists() else True
    assert main(["recommend", str(bare), "--user", "3", "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert "retrained from" in out and "Top 3 unseen items for user 3" in out


def test_another_trial_by_number_or_by_its_kept_file(tmp_path, tiny, capsys):
    """--trial N (or models/trial_N.keras as the target) gives trial N's model, not the best one's: its kept
    file, else N retrained from the config it recorded; pruned or unknown trials and a mismatched pair say why."""
    from recsearch.recommend import load_model_for
    from recsearch.results.study_tables import best_yaml_trial
    from recsearch.reproduce.source import open_study, trial_config
    from recsearch.search.sweep import run_sweep

    folder = run_sweep([*tiny, "search.n_trials=3", "search.pruner=none", "search.keep_models=2",
                        "search.study_name=several"], show_progress=False).folder
    best = best_yaml_trial(folder)
    kept = sorted(int(p.stem.split("_")[1]) for p in (folder / "models").glob("trial_*.keras"))
    other = next(n for n in kept if n != best)
    dropped = next(n for n in range(3) if n not in kept)
    study = open_study(str(folder)).study
    loaded = load_model_for(folder, trial=other)
    assert loaded.source == str(folder / "models" / f"trial_{other}.keras")
    assert loaded.cfg.model == trial_config(study.trials[other]).model
    assert load_model_for(folder / "models" / f"trial_{other}.keras").source == loaded.source
    assert load_model_for(folder, trial=best).source == load_model_for(folder).source
    retrained = load_model_for(folder, trial=dropped)
    assert retrained.source == f"retrained from trial {dropped}'s recorded config (no trial_{dropped}.keras kept)"
    assert retrained.cfg.model == trial_config(study.trials[dropped]).model
    assert main(["recommend", str(folder), "--trial", str(other), "--user", "3", "-n", "3"]) == 0
    assert f"model: {loaded.source}" in capsys.readouterr().out
    assert main(["recommend", str(folder), "--trial", "7", "--user", "3"]) == 2
    assert "trial 7 cannot be used: there is no such trial; completed trials: 0, 1, 2" in capsys.readouterr().err
    assert main(["recommend", str(folder / "models" / f"trial_{other}.keras"), "--trial", str(best), "--user", "3"]) == 2
    assert f"is trial {other}'s model, not trial {best}'s" in capsys.readouterr().err


def test_a_better_trial_from_a_worker_elsewhere_is_the_best_model_and_config(tmp_path, tiny, capsys):
    """A worker with its own results folder finishes a better trial after the first sweep wrote its best.yaml:
    the first folder's best model and the report's best config are that trial's (from the study), not
    best.yaml's, and the model is retrained from its recorded config since its file is in the other folder."""
    from recsearch.recommend import load_model_for
    from recsearch.reproduce.source import open_study, trial_config
    from recsearch.results.report import best_config_text, record_trials
    from recsearch.results.studies import load_target
    from recsearch.results.study_tables import best_trial, best_yaml_trial
    from recsearch.search.sweep import run_sweep

    poor = tmp_path / "poor.yaml"
    poor.write_text("- {train.optimizer: sgd, train.learning_rate: 0.0001, train.momentum: 0.0}\n")
    folder = run_sweep([*tiny, "search.n_trials=1", "search.pruner=none", "search.study_name=shared",
                        f"search.enqueue_file={poor}", f"paths.results_dir={tmp_path / 'first'}"],
                       show_progress=False).folder
    assert best_yaml_trial(folder) == 0
    assert main(["worker", "--no-progress", str(folder), "search.n_trials=3",
                 f"paths.results_dir={tmp_path / 'second'}"]) == 0
    capsys.readouterr()
    best = best_trial(open_study(str(folder)).study)
    assert best.number != 0 and best_yaml_trial(folder) == 0  # the worker wrote its tables in its own folder
    loaded = load_model_for(folder)
    assert loaded.cfg.model == trial_config(best).model
    assert loaded.source == (f"retrained from trial {best.number}'s recorded config (no trial_{best.number}.keras "
                             "kept here: this folder's best.yaml names trial 0, so it finished later, perhaps in a "
                             "worker that keeps its models in its own results folder)")
    record = load_target(str(folder), None, command="report")
    text = best_config_text(record, record_trials(record))
    assert text.startswith(f"# Best trial {best.number} of study shared: value = {best.values[0]:.6f}\n"
                           "# It finished after this folder's best.yaml (trial 0) was written")


def test_a_study_folder_whose_storage_cannot_be_read_here_uses_best_yaml(tmp_path, tiny, capsys, monkeypatch):
    """A database study (sweep.yaml keeps no password) or a relative sqlite path seen from elsewhere: the best
    model comes from best.yaml (with a warning for the latter, whose file is never created), and --trial N,
    whose config is in the storage, says where to get it."""
    import shutil

    import yaml

    from recsearch.errors import RecsearchError
    from recsearch.recommend import load_model_for
    from recsearch.search.sweep import run_sweep

    folder = run_sweep([*tiny, "search.n_trials=2", "search.pruner=none", "search.study_name=elsewhere"],
                       show_progress=False).folder
    kept = load_model_for(folder).source
    for url, warned in (("postgresql://u:***@db.example/studies", False), ("sqlite:///rel.db", True)):
        copy = tmp_path / url.split(":")[0] / "elsewhere"
        shutil.copytree(folder, copy)
        (copy / "study.journal").unlink()
        doc = yaml.safe_load((copy / "sweep.yaml").read_text())
        (copy / "sweep.yaml").write_text(yaml.safe_dump({**doc, "storage": url}))
        monkeypatch.chdir(tmp_path)
        capsys.readouterr()
        assert load_model_for(copy).source == kept.replace(str(folder), str(copy))
        err = capsys.readouterr().err
        assert ("using best.yaml's trial" in err) == warned, err
        assert not (tmp_path / "rel.db").exists()
        with pytest.raises(RecsearchError, match=r"trial 1 of .*: its (study is in a database|storage sqlite:///rel.db)"
                                                 r".* export the trial from the study's storage"):
            load_model_for(copy, trial=1 - int(kept.split("trial_")[1].split(".")[0]))


def test_a_damaged_model_file_is_named_and_a_studys_is_retrained(tmp_path, tiny, capsys):
    """A .keras file cut short (a full disk) is said to be one, not "File not found"; a study folder's best
    model that is damaged is retrained from best.yaml, with a warning."""
    import recsearch
    from recsearch.errors import RecsearchError
    from recsearch.recommend import load_model_for
    from recsearch.search.sweep import run_sweep

    folder = run_sweep([*tiny, "search.n_trials=1", "search.study_name=torn"], show_progress=False).folder
    kept = next((folder / "models").glob("trial_*.keras"))
    kept.write_bytes(kept.read_bytes()[: kept.stat().st_size // 2])
    with pytest.raises(RecsearchError, match=r"not a complete \.keras archive .*bytes: cut short or damaged"):
        recsearch.load_model(kept)
    loaded = load_model_for(folder)
    assert loaded.source.endswith(f"({kept.name} is damaged)")
    assert f"{kept} is not a complete .keras archive; retraining" in capsys.readouterr().err


def test_unknown_user_and_bad_folder_say_why(ml_run, capsys, tmp_path):
    run_dir, _ = ml_run
    assert main(["recommend", str(run_dir), "--user", "999999"]) == 2
    assert "user '999999' is not in the training data" in capsys.readouterr().err
    assert main(["recommend", str(tmp_path), "--user", "1"]) == 2
    assert "neither a run folder" in capsys.readouterr().err
    assert main(["recommend", str(run_dir / "model.keras"), "--user", "1"]) == 0  # a run's own model file
    capsys.readouterr()
    (tmp_path / "ratings.csv").write_text("userId,movieId\n")
    assert main(["recommend", str(tmp_path / "ratings.csv"), "--user", "1"]) == 2
    assert "is a file, not a run or study folder" in capsys.readouterr().err


@pytest.mark.parametrize("family", ["mf", "neumf", "two_tower"])
def test_item_vectors_of_every_family_that_has_them(family: str, tiny: list[str]) -> None:
    """--explain works beyond `item_embedding`: NeuMF's two tables (each centred and unit, side by side) and
    the two-tower item tower over every item; AutoRec has none."""
    from recsearch.config import compose_config
    from recsearch.models import build_model
    from recsearch.recommend.recommender import item_embeddings
    from recsearch.training.run import prepare_for

    small_data = [o for o in tiny if o.startswith("data")]
    cfg = compose_config([*small_data, f"model={family}", "model.embedding_dim=8"])
    data = prepare_for(cfg)
    model = build_model(cfg.model, data)
    vectors = item_embeddings(model)
    tables = [model.get_layer(name).output_dim for name in ("gmf_item_embedding", "mlp_item_embedding")
              ] if family == "neumf" else [8]
    assert vectors.shape == (data.num_items, sum(tables)) and np.isfinite(vectors).all()
    if family == "neumf":  # each table's part centred and unit: both count alike
        from recsearch.recommend.recommender import centred_unit

        gmf = model.get_layer("gmf_item_embedding").get_weights()[0]
        np.testing.assert_allclose(vectors[:, :tables[0]], centred_unit(gmf), rtol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(vectors[:, tables[0]:], axis=1), 1.0, rtol=1e-5)
    autorec = compose_config([*small_data, "model=autorec"])
    assert item_embeddings(build_model(autorec.model, prepare_for(autorec))) is None


def test_without_an_items_file_items_are_named_by_their_id() -> None:
    """Custom data with no items file: explanations and the profile show item ids, never blank or 'nan'."""
    from types import SimpleNamespace

    from recsearch.recommend import user_profile
    from recsearch.recommend.recommender import item_table

    ratings = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10], "rating": [5.0, 3.0, 4.0],
                            "timestamp": [1, 2, 3]})
    profile = user_profile(ratings, None, 1)
    assert profile.top_items["title"].tolist() == ["10", "20"] and profile.genres.empty
    data = SimpleNamespace(num_items=2, item_ids=np.array([10, 20]),
                           items=pd.DataFrame({"title": ["", "Twenty"], "genres": [[], ["Drama"]]}))
    assert item_table(data)["title"].tolist() == ["10", "Twenty"]


def test_implicit_feedback_is_shown_as_interactions_not_ratings_of_one() -> None:
    """Every rating 1 (clicks): the profile said "mean rating 1.00" and listed "your rating 1" for each item."""
    from rich.console import Console

    from recsearch.commands.recommend_cmd import profile_tables
    from recsearch.recommend import user_profile

    def shown(ratings: list[float]) -> str:
        frame = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10], "rating": ratings, "timestamp": [1, 2, 3]})
        console = Console(record=True, width=200)
        console.print(profile_tables(user_profile(frame, None, 1)))
        return console.export_text()

    implicit = shown([1.0, 1.0, 1.0])
    assert "User 1: 2 interactions (implicit feedback, no ratings)" in implicit and "Latest items" in implicit
    assert "mean" not in implicit and "rating" not in implicit.replace("no ratings", "")
    assert "mean rating 4.00" in shown([5.0, 3.0, 1.0]) and "Top-rated items" in shown([5.0, 3.0, 1.0])


def test_data_without_an_items_file_shows_no_title_or_genre_columns() -> None:
    """Own data without data.items_file: each "title" repeated the item's id and "genres" was an empty column."""
    from rich.console import Console

    from recsearch.commands.recommend_cmd import profile_tables, recommendations_table
    from recsearch.recommend import user_profile

    frame = pd.DataFrame({"user_id": [1, 1], "item_id": ["i7", "i8"], "rating": [5.0, 3.0], "timestamp": [1, 2]})
    recs = pd.DataFrame({"item_index": [0], "item_id": ["i9"], "title": ["i9"], "genres": [[]], "score": [4.0]})
    console = Console(record=True, width=200)
    console.print(recommendations_table(recs, 1, None), profile_tables(user_profile(frame, None, 1)))
    shown = console.export_text()
    assert "title" not in shown and "genre" not in shown, shown
    assert shown.count("i9") == 1 and shown.count("i7") == 1 and "4.000" in shown, shown
    titled = recs.assign(title=["Nine"], genres=[["Drama"]])
    console.print(recommendations_table(titled, 1, None, score="ranking score"))
    shown = console.export_text()
    assert "Nine" in shown and "Drama" in shown and "ranking score" in shown, shown


def test_a_storage_url_is_refused_with_its_slashes_intact(capsys) -> None:
    assert main(["recommend", "sqlite:////srv/studies.db", "--user", "1"]) == 2
    err = capsys.readouterr().err
    assert "sqlite:////srv/studies.db is a storage URL; give the run folder or the study folder" in err


def test_explain_header_says_which_items_the_rank_is_among() -> None:
    """The rank is among the items with enough training ratings (the pool that explains), not among all items."""
    from recsearch.commands.recommend_cmd import recommendations_table
    from recsearch.recommend.recommender import MIN_ITEM_RATINGS

    recs = pd.DataFrame({"item_index": [0], "item_id": [7], "title": ["x"], "genres": [["Drama"]], "score": [4.0]})
    near = pd.DataFrame({"title": ["y"], "similarity": [0.5], "rank": [2], "rating": [4.0]})
    table = recommendations_table(recs, 1, {0: near}, ranked_among=1234)
    header = str(table.columns[-1].header)
    assert f"rank among the 1,234 items with {MIN_ITEM_RATINGS}+ training ratings" in header, header
    assert "all items" not in header


def test_a_run_of_a_model_registered_elsewhere_says_to_register_it_first(tmp_path) -> None:
    """A new process has not run the user's `register_model`: the folder's config names an unknown family."""
    from omegaconf import OmegaConf

    from recsearch.config import compose_config
    from recsearch.errors import ConfigError
    from recsearch.recommend import load_model_for

    cfg = OmegaConf.to_container(compose_config(["model=mf"]))
    cfg["model"]["name"] = "dot"
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    (tmp_path / "model.keras").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"unknown model 'dot'.*needs it imported: recsearch --import MODULE "
                                          r"\.\.\.\); in Python, import the module that registers it first"):
        load_model_for(tmp_path)


def test_a_run_on_your_own_file_that_moved_or_changed_says_to_put_it_back(tiny, isolated_paths, tmp_path, capsys):
    """`recommend` told a user to "set data.path" (it takes none) or to point RECSEARCH_DATA_DIR at the data
    (unused by a data.path of their own)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.csv"
    table = pd.DataFrame({"userId": rng.integers(0, 60, 3000), "movieId": rng.integers(0, 40, 3000),
                          "rating": rng.integers(1, 6, 3000).astype(float), "timestamp": np.arange(3000)})
    table.to_csv(path, index=False)
    rest = [o for o in tiny if not o.startswith("data")]
    assert main(["train", "data=custom", f"data.path={path}", *rest]) == 0
    [run] = list((isolated_paths / "default" / "runs").iterdir())
    user = str(pd.read_csv(path)["userId"].iloc[0])
    capsys.readouterr()
    path.rename(tmp_path / "moved.csv")
    assert main(["recommend", str(run), "--user", user]) == 2
    assert f"{path} is not there: it is the data.path the run" in capsys.readouterr().err
    import recsearch

    assert recsearch.load_model(run).count_params() > 0  # the kept model alone needs no data
    (tmp_path / "moved.csv").rename(path)
    with path.open("a") as file:
        file.write("1,1,3.0,5000\n")
    assert main(["recommend", str(run), "--user", user]) == 2
    assert f"put back at {path} the data it was trained on" in capsys.readouterr().err
