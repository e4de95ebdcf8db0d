"""Candidate sets of both protocols, and negative sampling."""

from __future__ import annotations

import numpy as np
import pytest

from recsearch.cli import main
from recsearch.config import compose_config
from recsearch.errors import DataError
from recsearch.ranking.negatives import is_known, pair_keys, sample_negatives
from recsearch.ranking.protocols import check_rankable, full_queries, make_queries, sampled_queries
from recsearch.training.run import prepare_for

SYNTH = ["data=synthetic", "data.synthetic.n_users=80", "data.synthetic.n_items=300", "data.synthetic.n_ratings=3000",
         "task=ranking", "split=leave_one_out"]


def _user_items(*parts):
    seen = {}
    for p in parts:
        for u, i in zip(p.users, p.items):
            seen.setdefault(int(u), set()).add(int(i))
    return seen


def test_sample_negatives_avoids_known_pairs():
    rng = np.random.default_rng(0)
    known = pair_keys(np.array([0, 0, 0, 1]), np.array([0, 1, 2, 3]), 5)
    negs = sample_negatives(np.array([0, 0, 1]), 50, num_items=5, known=known, rng=rng)
    assert negs.shape == (3, 50)
    assert set(np.unique(negs[:2])) <= {3, 4}
    assert 3 not in set(negs[2])
    assert not is_known(np.repeat([[0], [0], [1]], 50, axis=1), negs, known, 5).any()


def test_sample_negatives_user_with_every_item_fails_clearly():
    known = pair_keys(np.zeros(3, int), np.arange(3), 3)
    with pytest.raises(ValueError, match="user index 0: it has interacted with every item"):
        sample_negatives(np.array([0]), 2, num_items=3, known=known, rng=np.random.default_rng(0))


def test_sampled_queries_hand_case():
    known = pair_keys(np.array([0, 0]), np.array([1, 2]), 6)
    q = sampled_queries(np.array([0]), np.array([2]), known=known, num_items=6, n=4, seed=0)
    assert q.candidates.shape == (1, 5) and q.relevant.sum() == 1
    assert q.candidates[0, q.relevant[0]][0] == 2
    assert set(q.candidates[0, ~q.relevant[0]]) <= {0, 3, 4, 5}


@pytest.mark.parametrize("part", ["valid", "test"])
def test_sampled_protocol_candidates(part):
    cfg = compose_config([*SYNTH, "task.num_candidates=40"])
    data = prepare_for(cfg)
    q = make_queries(data, part, cfg.task)
    held = getattr(data, part)
    seen = _user_items(data.train, data.valid, data.test)
    assert len(q) == len(held) and q.candidates.shape == (len(held), 41)
    positions = q.relevant.argmax(axis=1)
    assert (q.relevant.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(q.candidates[np.arange(len(q)), positions], held.items)
    assert len(set(positions.tolist())) > 1  # the held-out item is not always in the same slot
    train_seen = _user_items(data.train)
    for u, cands, rel in zip(q.users, q.candidates, q.relevant):
        negatives = set(cands[~rel].tolist())
        assert not negatives & train_seen.get(int(u), set())  # no train item leaks in
        assert not negatives & seen[int(u)]


def test_full_protocol_candidates():
    cfg = compose_config([*SYNTH, "task.protocol=full"])
    data = prepare_for(cfg)
    for part, seen_parts in (("valid", [data.train]), ("test", [data.train, data.valid])):
        q = make_queries(data, part, cfg.task)
        relevant, excluded = q.dense(0, len(q))
        assert relevant.shape == excluded.shape == (len(q), data.num_items)
        seen = _user_items(*seen_parts)
        held = _user_items(getattr(data, part))
        for row, u in enumerate(q.users):
            assert set(np.nonzero(excluded[row])[0].tolist()) == seen.get(int(u), set())
            assert set(np.nonzero(relevant[row])[0].tolist()) == held[int(u)] - seen.get(int(u), set())
            assert not (relevant[row] & excluded[row]).any()


def test_full_queries_hand_case():
    q = full_queries(np.array([1, 1]), np.array([0, 3]), seen_users=np.array([1, 0]), seen_items=np.array([2, 3]),
                     num_items=4)
    np.testing.assert_array_equal(q.users, [1])
    relevant, excluded = q.dense(0, 1)
    np.testing.assert_array_equal(relevant, [[True, False, False, True]])
    np.testing.assert_array_equal(excluded, [[False, False, True, False]])


def test_full_queries_drop_seen_heldout_items():
    q = full_queries(np.array([0, 0, 2]), np.array([1, 2, 0]), seen_users=np.array([0, 1]), seen_items=np.array([2, 0]),
                     num_items=3)
    relevant, excluded = q.dense(0, len(q))
    np.testing.assert_array_equal(q.users, [0, 2])
    np.testing.assert_array_equal(relevant, [[False, True, False], [True, False, False]])
    np.testing.assert_array_equal(excluded, [[False, False, True], [False, False, False]])


def test_implicit_threshold_filters_heldout_positives():
    cfg = compose_config([*SYNTH, "task.implicit_threshold=4.0", "task.num_candidates=10"])
    data = prepare_for(cfg)
    q = make_queries(data, "test", cfg.task)
    assert len(q) == int((data.test.ratings >= 4.0).sum()) < len(data.test)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    """Each test sees its own once-per-process warnings."""
    from recsearch.data import loaders

    monkeypatch.setattr(loaders, "_WARNED", set())


def _custom(tmp_path, rows: list[tuple[str, int, int]], *extra: str) -> list[str]:
    """Overrides of a data=custom file of (user, item, timestamp) rows, ranked with leave-one-out."""
    body = "".join(f"{u},{i},4,{t}\n" for u, i, t in rows)
    (tmp_path / "r.csv").write_text("userId,movieId,rating,timestamp\n" + body)
    return ["data=custom", f"data.path={tmp_path}", "data.ratings_file=r.csv", "data.rating_scale=[1,5]",
            "task=ranking", "split=leave_one_out", *extra]


def _warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("recsearch: warning:")]


def test_users_who_have_seen_every_item_are_left_out_of_sampled_queries(tmp_path, capsys):
    """No negative exists for them: their queries go, with one warning naming them by their own ids."""
    rows = [("alice", i, i) for i in range(12)] + [(f"u{u}", (u + i) % 12, i) for u in range(9) for i in range(4)]
    cfg = compose_config(_custom(tmp_path, rows, "task.num_candidates=5"))
    data = prepare_for(cfg)
    alice = int(np.flatnonzero(data.user_ids == "alice")[0])
    for part in ("valid", "test"):
        q = make_queries(data, part, cfg.task)
        assert len(q) == 9 and alice not in q.users.tolist()
        assert (q.relevant.sum(axis=1) == 1).all()
    warnings = _warnings(capsys)
    assert len(warnings) == 1, warnings  # once, not once per part
    assert "1 user has interacted with every item (user alice)" in warnings[0] and "left out" in warnings[0]


def test_fewer_unseen_items_than_candidates_warns_once(tmp_path, capsys):
    rows = [(f"u{u}", (u + i) % 12, i) for u in range(9) for i in range(4 + u % 3)]
    cfg = compose_config(_custom(tmp_path, rows, "task.num_candidates=8"))  # the users have 8, 7 or 6 unseen items
    data = prepare_for(cfg)
    q = make_queries(data, "valid", cfg.task)
    assert q.candidates.shape == (9, 9)
    make_queries(data, "test", cfg.task)
    warnings = _warnings(capsys)
    assert len(warnings) == 1, warnings
    assert "task.num_candidates=8" in warnings[0] and "6 of 9 users" in warnings[0], warnings[0]
    assert "lower task.num_candidates to 6" in warnings[0], warnings[0]


def test_no_sampled_query_left_is_refused(tmp_path):
    rows = [(f"u{u}", i, i) for u in range(3) for i in range(4)]
    cfg = compose_config(_custom(tmp_path, rows))
    data = prepare_for(cfg)
    with pytest.raises(DataError, match="every user with held-out ratings has interacted with every item.*"
                                        "task.protocol=full"):
        make_queries(data, "valid", cfg.task)


def test_data_every_ranking_trial_would_fail_on_is_refused_before_any_trial(tmp_path, capsys):
    """Every user has every item: a sweep says so once at its start (nothing is created) instead of failing each
    trial with it; one such user among others, or the full protocol, goes on."""
    full = [(f"u{u}", i, i) for u in range(3) for i in range(4)]
    cfg = compose_config(_custom(tmp_path, full))
    with pytest.raises(DataError, match="no valid query is left; use task.protocol=full"):
        check_rankable(prepare_for(cfg), cfg.task)
    cfg = compose_config(_custom(tmp_path, full, "task.protocol=full"))
    check_rankable(prepare_for(cfg), cfg.task)
    results = tmp_path / "results"
    argv = ["sweep", *_custom(tmp_path, full), "model=gmf", "search.n_trials=3", "train.epochs=1",
            f"paths.results_dir={results}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("every user with held-out ratings has interacted") == 1, err
    assert not list(results.rglob("*.journal"))  # refused before the study was created: no failed trials
    alice = [("alice", i, i) for i in range(12)] + [(f"u{u}", (u + i) % 12, i) for u in range(9) for i in range(4)]
    cfg = compose_config(_custom(tmp_path, alice))
    check_rankable(prepare_for(cfg), cfg.task)


def test_a_ranking_run_with_a_user_who_has_seen_every_item(tmp_path, capsys):
    """The reporter's case end to end: trains and evaluates, warning once about user 'alice'."""
    rows = [("alice", i, i) for i in range(20)] + [(f"u{u}", (u * 7 + i) % 20, i) for u in range(40) for i in range(6)]
    argv = ["train", *_custom(tmp_path, rows), "model=gmf", "train.epochs=1"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("interacted with every item (user alice)") == 1, err


def test_a_user_with_every_item_in_train_gets_no_training_negatives(tmp_path, capsys):
    """Training negatives come from a user's unseen train items: a user with none is left out of training."""
    header = "userId,movieId,rating,timestamp\n"
    rows = [f"alice,{i},4,{i}\n" for i in range(10)]
    rows += [f"u{u},{(u + i) % 10},4,{i}\n" for u in range(20) for i in range(4)]
    (tmp_path / "train.csv").write_text(header + "".join(rows))
    for name, offset in (("valid.csv", 5), ("test.csv", 6)):
        (tmp_path / name).write_text(header + "".join(f"u{u},{(u + offset) % 10},4,9\n" for u in range(20)))
    argv = ["train", "data=custom", f"data.path={tmp_path}", "data.ratings_file=train.csv", "data.rating_scale=[1,5]",
            "task=ranking", "split=predefined", "split.train_file=train.csv", "split.valid_file=valid.csv",
            "split.test_file=test.csv", "model=gmf", "train.epochs=1"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interacted with every item in train (user alice)" in err, err
