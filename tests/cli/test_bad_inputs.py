"""Table of bad inputs through the CLI: each ends in exit 2 and one line on stderr that names the key or path,
with no traceback and nothing written to the results folder. A representative subset also runs as a real
process from another working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsearch.cli import main

REPO = Path(__file__).resolve().parents[2]
HEADER = "userId,movieId,rating,timestamp\n"
SYNTH = ["data=synthetic", "data.synthetic.n_users=40", "data.synthetic.n_items=30", "data.synthetic.n_ratings=600",
         "train.epochs=1"]
CUSTOM = ["data=custom", "data.path={tmp}/data"]

# (id, argv, text the one line must contain); {tmp} is the test's folder of bad files (see `bad_files`).
CASES: list[tuple[str, list[str], str]] = [
    # command-line overrides that Hydra alone turns into tracebacks or wrong advice
    ("group-int", ["train", "model=5"], "'model' is a config group"),
    ("group-null", ["train", "data=null"], "'data' is a config group"),
    ("group-list", ["config", "show", "model=[mlp]"], "'model' is a config group"),
    ("no-key", ["train", "=5"], "no key before '='"),
    ("malformed", ["train", "model.depth=(("], "model.depth=(("),
    ("shell-ate-quotes", ["train", "data.sep=;"], "the quotes reaching recsearch: \"data.sep=';'\""),
    ("shell-ate-quotes-of-$", ["train", "search.study_name=x y$z;`id`"],  # pasted into bash, expands nothing
     "the quotes reaching recsearch: 'search.study_name=\"x y$z;`id`\"'"),
    ("unknown-group-option", ["train", "model=nope"], "nope"),
    ("unknown-key", ["train", "model.nope=1"], "model.nope"),
    ("wrong-type", ["train", "train.epochs=many"], "train.epochs"),
    ("sweep-expr-train", ["train", "model.depth=range(1,5)"], "search_space.params={model.depth:'range(1,5)'}"),
    ("sweep-expr-sweep", ["sweep", "model.depth=1,2"], "search_space.params={model.depth:'choice(1,2)'}"),
    ("sweep-expr-space-path", ["sweep", "search_space.params.model.depth=range(5,1)"],
     "search_space.params holds flat keys such as 'model.depth' in one mapping, which a dotted override cannot "
     "set; to search model.depth, run `recsearch sweep \"++search_space.params={model.depth:'range(5,1)'}\"`"),
    ("sweep-expr-space-typo", ["sweep", "search_space.parms.model.width=choice(16,32)"],
     "search_space has no section 'parms' (its sections: params, conditions), and search_space.params holds flat "
     "keys such as 'model.width'"),
    ("sweep-expr-space-no-params", ["sweep", "search_space.model.width=choice(16,32)"],
     "to search model.width, run `recsearch sweep \"++search_space.params={model.width:'choice(16,32)'}\"`"),
    ("search-space-typo", ["sweep", "search_space=mpl"], "search_space=mpl: no such search space; did you mean "
     "search_space=mlp?"),
    ("condition-value-typo", ["sweep", "~search_space", "+search_space={params: {train.optimizer: 'choice(adam, sgd)', "
     "train.momentum: 'interval(0, 0.9)'}, conditions: {train.momentum: {train.optimizer: [sdg]}}}"],
     "value 'sdg' does not fit the config"),
    # value ranges declared on the schemas
    ("dropout-5", ["train", "model.dropout=5"], "'model.dropout': must be in [0, 1), got 5.0"),
    ("dropout-negative", ["train", "model.dropout=-0.1"], "model.dropout"),
    ("dropout-nan", ["train", "model.dropout=nan"], "model.dropout"),
    ("lr-zero", ["train", "train.learning_rate=0"], "'train.learning_rate': must be > 0"),
    ("batch-zero", ["train", "train.batch_size=0"], "train.batch_size"),
    ("epochs-negative", ["train", "train.epochs=-1"], "train.epochs"),
    ("momentum-1", ["train", "train.optimizer=sgd", "train.momentum=1.0"], "train.momentum"),
    ("embedding-zero", ["train", "model=mf", "model.embedding_dim=0"], "model.embedding_dim"),
    ("width-zero", ["train", "model.width=0"], "model.width"),
    ("l2-negative", ["train", "model=gmf", "model.l2=-1"], "model.l2"),
    ("hidden-zero", ["train", "model=autorec", "model.hidden=0"], "model.hidden"),
    ("ratio-negative", ["train", "split.ratios=[1.1,0.0,-0.1]"], "split.ratios"),
    ("valid-ratio-1", ["train", "split.method=predefined", "split.valid_ratio=1.0"], "split.valid_ratio"),
    ("verbose-9", ["train", "train.verbose=9"], "train.verbose"),
    ("synthetic-users-0", ["train", "data=synthetic", "data.synthetic.n_users=0"], "data.synthetic.n_users"),
    ("n-trials-0", ["sweep", "search.n_trials=0"], "search.n_trials"),
    ("workers-0", ["sweep", "search.n_workers=0"], "search.n_workers"),
    ("percentile-150", ["sweep", "search.percentile=150"], "search.percentile"),
    ("timeout-negative", ["sweep", "search.timeout=-5"], "search.timeout"),
    ("diverges", ["train", "data=synthetic", "data.synthetic.n_ratings=3000", "train.epochs=1",
                  "train.optimizer=sgd", "train.learning_rate=1e25"],
     "diverged (not finite) at epoch 1; lower train.learning_rate"),
    ("study-name-nested", ["sweep", "search.study_name=mlp/v2"], "e.g. mlp-v2"),
    ("study-name-outside", ["sweep", "search.study_name=../../outside"], "search.study_name"),
    ("study-name-absolute", ["sweep", "search.study_name=/tmp/abs"], "not a folder name"),
    ("study-name-too-long", ["sweep", "search.study_name=" + "x" * 300], "300 bytes long, over 200"),
    ("optimizer", ["train", "train.optimizer=adagrad"], "train.optimizer"),
    ("metric-task", ["train", "task.metric=ndcg@10"], "task.metric"),
    # search spaces: both ends of every entry, non-finite and oversized ranges
    ("space-dropout-interval", ["sweep", "search_space.params={model.dropout:'interval(2.0, 5.0)'}"],
     "search_space.params.model.dropout"),
    ("space-range-nan", ["sweep", "search_space.params={model.depth:'range(nan)'}"], "finite"),
    ("space-range-inf", ["sweep", "search_space.params={model.dropout:'range(inf, -185.7, -35)'}"], "finite"),
    ("space-range-huge", ["sweep", "search_space.params={model.l2:'range(0, 1000000, 0.001)'}"], "use interval(0"),
    ("space-unknown-key", ["sweep", "search_space.params={model.nope:'choice(1, 2)'}"], "model.nope"),
    ("space-unquoted", ["sweep", "search_space.params={model.depth: range(1, 3)}"], "quote each search expression"),
    ("key-typo", ["train", "train.epoch=1"], "'train.epoch' is not a config key; did you mean train.epochs?"),
    ("key-typo-added", ["train", "+model.dept=3"], "did you mean model.depth?"),
    ("key-unknown-root", ["train", "foo=1"], "'foo' is not a config key (`recsearch config show` lists them)"),
    ("key-typo-group", ["train", "modle=mlp"], "'modle' is not a config key; did you mean model?"),
    ("option-typo", ["train", "model=mpl"], "model=mpl: no such model; did you mean model=mlp? (the model options: "),
    ("experiment-unknown", ["train", "+experiment=nope"], "+experiment=nope: no such experiment"),
    ("experiment-misspelt", ["train", "+experiment=compare_variant"],
     "did you mean +experiment=compare_variants?"),  # with its +: without, Hydra cannot override it
    ("key-other-model", ["train", "model=mf", "model.depth=3"],
     "'model.depth' is not a setting of model=mf (its settings: embedding_dim, l2, bias_l2, init_std)"),
    ("key-other-model-added", ["train", "+model.depth=3", "model=gmf"], "'depth' is a setting of model=deepfm"),
    ("space-lr-zero", ["sweep", "search_space.params={train.learning_rate:'interval(0.0, 0.1)'}"],
     "train.learning_rate"),
    ("grid-interval", ["sweep", "search.sampler=grid"], "grid sampler"),
    ("enqueue-missing", ["sweep", "search.enqueue_file={tmp}/nope.yaml"], "{tmp}/nope.yaml does not exist"),
    ("enqueue-unknown", ["sweep", "search.enqueue_file={tmp}/enqueue.yaml"], "model.nope"),
    ("enqueue-value", ["sweep", "search.enqueue_file={tmp}/enqueue-value.yaml"],
     "config 2: model.width=100 is outside its search space (choice(32, 64, 128, 256))"),
    ("enqueue-dir", ["sweep", "search.enqueue_file={tmp}"], "is a directory"),
    # data files
    ("one-row", ["train", *CUSTOM, "data.ratings_file=one.csv"], "too small to split: 1 ratings, need at least"),
    ("three-rows", ["train", *CUSTOM, "data.ratings_file=three.csv"], "too small to split: 3 ratings"),
    ("ratings-dir", ["train", *CUSTOM, "data.ratings_file=adir"], "{tmp}/data/adir is a directory"),
    ("ratings-missing", ["train", *CUSTOM, "data.ratings_file=gone.csv"], "{tmp}/data/gone.csv not found"),
    ("ratings-not-number", ["train", *CUSTOM, "data.ratings_file=text.csv"], "'rating'"),
    ("data-info-unknown", ["data", "info", "nope"], "nope"),
    ("data-info-no-name", ["data", "info"], "NAME"),
    # paths of other commands
    ("config-file-missing", ["train", "--config", "{tmp}/nope.yaml"], "{tmp}/nope.yaml"),
    ("config-file-experiment", ["train", "--config", "{tmp}/experiments/best.yaml"],
     "{tmp}/experiments/best.yaml is an experiment (it has a defaults list), not a complete config: run it with "
     "`recsearch train +experiment=best`"),
    ("leaderboard-missing", ["leaderboard", "{tmp}/no-results"], "{tmp}/no-results"),
    ("report-missing", ["report", "{tmp}/no-study"], "{tmp}/no-study"),
    ("recommend-missing", ["recommend", "{tmp}/no-study", "--user", "1"], "{tmp}/no-study"),
    ("recommend-unfinished", ["recommend", "{tmp}/unfinished", "--user", "1"],
     "study folder {tmp}/unfinished has no finished trial yet (no best.yaml); run or resume its sweep first"),
    ("export-missing", ["export-best", "{tmp}/no-study", "--name", "x"], "{tmp}/no-study"),
    ("results-dir-is-file", ["sweep", *SYNTH, "search.n_trials=1", "paths.results_dir={tmp}/afile"], "{tmp}/afile"),
    ("storage-password", ["sweep", "search.storage=postgresql://u:secret@127.0.0.1:1/db"], "postgresql://u:***@"),
    ("storage-no-driver", ["sweep", "search.storage=mssql+pyodbc://u:p@127.0.0.1:1/db"],  # pyodbc: not a dependency
     "); install the Python driver that the URL's scheme names"),
]
# run again as real processes, from another working directory
SUBPROCESS = ["group-int", "no-key", "dropout-5", "sweep-expr-train", "space-range-inf", "three-rows", "ratings-dir",
              "storage-password"]


@pytest.fixture
def bad_files(tmp_path: Path) -> Path:
    """A folder of bad inputs: tiny, duplicate, non-numeric ratings files, a directory, an enqueue file."""
    folder = tmp_path / "bad"
    data = folder / "data"
    (data / "adir").mkdir(parents=True)
    (data / "one.csv").write_text(HEADER + "1,1,4.0,10\n")
    (data / "three.csv").write_text(HEADER + "1,1,4.0,10\n1,2,3.0,11\n2,1,5.0,12\n")
    (data / "text.csv").write_text(HEADER + "1,1,4.0,10\n1,2,good,11\n")
    (folder / "enqueue.yaml").write_text("- {model.nope: 1}\n")
    (folder / "enqueue-value.yaml").write_text("- {model.depth: 2}\n- {model.width: 100}\n")
    (folder / "afile").write_text("not a folder\n")
    (folder / "experiments").mkdir()  # what export-best writes: a defaults list over the packaged options
    (folder / "experiments" / "best.yaml").write_text("# @package _global_\ndefaults:\n  - override /model: mf\n"
                                                      "train:\n  epochs: 2\n")
    (folder / "unfinished").mkdir()  # a study killed in its first trial: sweep.yaml, no best.yaml
    (folder / "unfinished" / "sweep.yaml").write_text("overrides: []\n")
    return folder


def _expand(items: list[str], folder: Path) -> list[str]:
    return [item.replace("{tmp}", str(folder)) for item in items]


def assert_one_line_error(code: int, err: str, must: str, results: Path) -> None:
    """Exit 2, a single `recsearch: error:` line containing `must`, no traceback, no result file written."""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("recsearch: warning:")]
    assert "Traceback" not in err, err
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("recsearch: error: "), err
    assert must in lines[0], lines[0]
    assert "--multirun" not in lines[0] and "secret" not in lines[0]
    assert not [p for p in results.rglob("*") if not p.is_dir()], sorted(results.rglob("*"))


def test_the_table_has_at_least_40_distinct_cases() -> None:
    assert len(CASES) >= 40 and len({case[0] for case in CASES}) == len(CASES)
    assert set(SUBPROCESS) <= {case[0] for case in CASES}


@pytest.mark.parametrize("case_id, argv, must", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(case_id, argv, must, bad_files, isolated_paths, capsys) -> None:
    code = main(_expand(argv, bad_files))
    err = capsys.readouterr().err
    assert_one_line_error(code, err, must.replace("{tmp}", str(bad_files)), isolated_paths)


@pytest.mark.parametrize("case_id", SUBPROCESS)
def test_bad_input_in_a_real_process(case_id, bad_files, isolated_paths, tmp_path) -> None:
    _, argv, must = next(case for case in CASES if case[0] == case_id)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-m", "recsearch", *_expand(argv, bad_files)], capture_output=True,
                          text=True, env=env, cwd=elsewhere, timeout=300)
    assert_one_line_error(proc.returncode, proc.stderr, must.replace("{tmp}", str(bad_files)), isolated_paths)
    assert not any(elsewhere.iterdir())
