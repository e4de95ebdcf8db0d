"""The command line: help texts, config show, and one clear line (no traceback) for each bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from recsearch.cli import main

HEADER = "userId,movieId,rating,timestamp\n"


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_commands_and_config_groups(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for word in ("train", "sweep", "leaderboard", "report", "recommend", "export-best", "reproduce", "data", "config"):
        assert word in out
    assert "mlp" in out and "ml_latest_small" in out and "random" in out  # group options


def test_command_help_explains_overrides(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "Hydra overrides" in out and "model" in out


def test_every_commands_help_ends_with_examples_that_its_parser_takes(capsys) -> None:
    """Most help pages had no example; each now has some, and each example parses as written (quotes included)."""
    import shlex

    from recsearch.cli import build_parser
    from recsearch.commands import COMMAND_MODULES
    from recsearch.config import compose_config
    from recsearch.config.validate import check_overrides

    parser = build_parser()
    for command in COMMAND_MODULES:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        examples = out.partition("\nexamples:\n")[2].split("\n\n")[0].splitlines()
        lines = [line.partition(" # ")[0].strip() for line in examples if line.strip().startswith("recsearch ")]
        assert lines, f"{command} --help shows no example"
        for line in lines:
            argv = shlex.split(line)[1:]
            args, extras = parser.parse_known_args(argv)  # an unknown option or missing argument exits here
            assert args.command == argv[0], line
            assert not [e for e in extras if e.startswith("-") and e != "-m"], (line, extras)
            overrides = [*getattr(args, "overrides", []), *[e for e in extras if e != "-m"]]
            if command in ("train", "sweep", "config") and "+experiment=mlp-best" not in overrides:  # composes (the
                check_overrides(overrides, command=command, multirun="-m" in argv)  # export example's file aside)
                if "-m" not in argv:
                    compose_config(overrides)


@pytest.mark.parametrize(("command", "takes_overrides"), [("sweep", True), ("config", True), ("leaderboard", False),
                                                         ("recommend", False), ("reproduce", False)])
def test_only_commands_that_take_overrides_list_the_config_groups(capsys, command: str,
                                                                  takes_overrides: bool) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert ("config groups (choose with GROUP=OPTION)" in capsys.readouterr().out) is takes_overrides


def test_config_show_prints_resolved_yaml(capsys) -> None:
    code, out, _ = _run(["config", "show", "model.depth=2", "train.epochs=3"], capsys)
    assert code == 0 and "depth: 2" in out and "epochs: 3" in out and "${" not in out


def _bad_ratings(tmp_path: Path, text: str, name: str = "ratings.csv") -> list[str]:
    folder = tmp_path / "mydata"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return ["data=custom", f"data.path={folder}", f"data.ratings_file={name}"]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda t: _bad_ratings(t, "userId,movieId,timestamp\n1,2,3\n"), "'rating'"),
        (lambda t: _bad_ratings(t, HEADER + "1,1,4.0,10\n1,2,great,11\n"), "line 3"),
        (lambda t: _bad_ratings(t, ""), "empty"),
        (lambda t: _bad_ratings(t, "userId;movieId;rating;timestamp\n1;1;4.0;10\n"), "separator"),
        (lambda t: ["data=ml_latest_small", f"data.path={t / 'nowhere'}"], "nowhere"),
        (lambda t: ["model=transformer"], "model=transformer: no such model (the model options: autorec, "),
        (lambda t: ["data=ml_2b"], "(the data options: custom, ml_100k"),
        (lambda t: ["model.depth=deep"], "model.depth"),
    ],
)
def test_bad_input_gives_one_line_and_writes_nothing(tmp_path, isolated_paths, capsys, make, expected) -> None:
    code, out, err = _run(["train", *make(tmp_path)], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("recsearch: error:"), err
    assert expected in lines[0]
    assert "Traceback" not in err
    assert not isolated_paths.exists() or not any(isolated_paths.rglob("metrics.json"))


def test_unknown_dataset_name_in_data_command(capsys) -> None:
    code, _, err = _run(["data", "info", "ml-2b"], capsys)
    assert code == 2 and "ml_latest_small" in err


def test_data_list_and_info(capsys) -> None:
    code, out, _ = _run(["data", "list"], capsys)
    assert code == 0 and "ml-latest-small" in out and "yes" in out
    code, out, _ = _run(["data", "info", "ml-latest-small"], capsys)
    assert code == 0 and "100,836" in out and "610" in out
    assert re.search(r"has_genres\s+│\s+yes\s", out) and re.search(r"has_demographics\s+│\s+no\s", out), out
    code, again, _ = _run(["data", "info", "data=ml_latest_small"], capsys)  # as the other commands take it
    assert code == 0 and again == out


def test_data_list_says_partly_when_a_loader_file_is_missing(capsys, tmp_path, monkeypatch) -> None:
    """ml-1m with ratings.dat but no movies.dat used to be listed as present; `data info` then failed."""
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ratings.dat").write_text("1::10::4::5\n")
    monkeypatch.setenv("RECSEARCH_DATA_DIR", str(tmp_path))
    code, out, _ = _run(["data", "list"], capsys)
    cells = [line.split("│") for line in out.splitlines() if line.count("│") > 4]
    rows = {cell[1].strip(): cell[4].strip() for cell in cells}
    assert code == 0 and rows["ml_1m"] == "partly" and rows["ml_latest_small"] == "no"
    assert f"looked for under {tmp_path} (paths.data_dir, RECSEARCH_DATA_DIR)" in " ".join(out.split())
    monkeypatch.delenv("RECSEARCH_DATA_DIR")  # given as an override instead: it was read as a dataset name, unused
    code, again, _ = _run(["data", "list", f"paths.data_dir={tmp_path}"], capsys)
    assert code == 0 and again == out
    code, _, err = _run(["data", "list", "ml_1m"], capsys)
    assert code == 2 and "`recsearch data list` takes no dataset name (got 'ml_1m')" in err


def test_fetch_uses_files_already_in_place_without_network(capsys) -> None:
    code, out, _ = _run(["data", "fetch", "ml_latest_small"], capsys)
    assert code == 0 and "ready" in out


def test_console_script_process_exit_code_and_no_traceback(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "recsearch", "train", "model=transformer"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("argv, actions", [(["data"], "{list,info,fetch}"), (["config"], "{show}")])
def test_a_missing_action_is_the_only_required_argument(argv: list[str], actions: str, capsys) -> None:
    """OVERRIDE is optional (`recsearch data list` runs without one): only the action is asked for, by its
    choices as the usage line shows them (it said `action`)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert stop.value.code == 2 and last.endswith(f"the following arguments are required: {actions}"), last


def test_an_unknown_option_is_named_alone_with_the_commands_that_take_it(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["train", "data=synthetic", "model=mf", "--no-progress", "split=random"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert stop.value.code == 2 and last.startswith("recsearch train: error: unrecognized option --no-progress"), last
    assert "split=random" not in last and "recsearch sweep" in last and "recsearch worker" in last


def test_an_unknown_option_of_no_command_is_named(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["leaderboard", "--bogus=1", "results"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "recsearch leaderboard: error: unrecognized option --bogus=1; see `recsearch leaderboard --help`"


def test_overrides_may_follow_an_option(capsys) -> None:
    """`train model=mf --cfg job train.epochs=3`: the override after the option is an override, not an error."""
    code, out, _ = _run(["train", "model=mf", "--cfg", "job", "train.epochs=3"], capsys)
    assert code == 0 and "name: mf" in out and "epochs: 3" in out


def test_leaderboard_format_has_help(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    flat = " ".join(capsys.readouterr().out.split())
    assert "{table,markdown,csv,html,json} output format:" in flat, flat


@pytest.fixture(scope="module")
def one_trial_study(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Path:
    """A study folder of one finished trial on tiny synthetic data."""
    from recsearch.search.sweep import run_sweep

    overrides = ["data=synthetic", "data.synthetic.n_users=40", "data.synthetic.n_items=30",
                 "data.synthetic.n_ratings=600", "train.epochs=1", "model=mf", "search.n_trials=1",
                 "search.study_name=s", f"paths.results_dir={tmp_path_factory.mktemp('one-trial')}",
                 f"paths.cache_dir={shared_cache}"]
    return run_sweep(overrides, show_progress=False).folder


@pytest.mark.parametrize("name", ["../evil", "sub/evil", "..", ".", "", " "])
def test_export_best_refuses_a_name_that_is_not_a_plain_file_name(name: str, one_trial_study: Path, tmp_path: Path,
                                                                  monkeypatch, capsys) -> None:
    """The name is checked before the study is read, and nothing is written, not even elsewhere."""
    experiments = tmp_path / "x" / "experiments"
    monkeypatch.setenv("RECSEARCH_EXPERIMENTS_DIR", str(experiments))
    code = main(["export-best", str(one_trial_study), "--name", name])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"recsearch: error: --name {name!r} is not a plain file name"), lines[0]
    assert str(experiments) in lines[0]
    assert not [p for p in (tmp_path / "x").rglob("*") if p.is_file()]
    assert main(["export-best", str(one_trial_study), "--name", "fine"]) == 0  # a plain name is written
    assert (experiments / "fine.yaml").is_file()
