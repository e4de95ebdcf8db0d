"""`recsearch report`: the HTML of real sweeps opens in headless Chromium, every plot drawn, no console error."""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import optuna
import pandas as pd
import pytest

from recsearch.cli import main
from recsearch.results.report import chromium_command, importance_frame

_HAVE_CHROMIUM = any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome"))
if not _HAVE_CHROMIUM and os.environ.get("CI"):
    raise RuntimeError("CI must install Chromium for the report tests (.ci/run: apt-get install chromium)")
needs_chromium = pytest.mark.skipif(not _HAVE_CHROMIUM, reason="Chromium not installed (Debian: apt-get install -y chromium)")


class PlotDivs(HTMLParser):
    """Collect each plotly div's id and whether an svg.main-svg was rendered inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.plots: dict[str, bool] = {}
        self._stack: list[str | None] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        cls = dict(attrs).get("class") or ""
        plot = dict(attrs).get("id") if tag == "div" and "plotly-graph-div" in cls.split() else None
        if plot:
            self.plots[plot] = False
        if tag == "svg" and "main-svg" in cls.split():
            for owner in self._stack:
                if owner:
                    self.plots[owner] = True
        if tag not in ("br", "meta", "img", "input", "link", "path", "rect", "line", "circle", "image", "hr", "stop"):
            self._stack.append(plot)

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag not in ("br", "meta", "img", "input", "link", "path", "rect", "line", "circle", "image", "hr", "stop") \
                and self._stack:
            self._stack.pop()


def render_in_chromium(page: Path, tmp_path: Path) -> tuple[dict[str, bool], list[str]]:
    """Load `page` headless; return {plot div id: drawn} from the DOM and the console error lines."""
    cmd = chromium_command(page.resolve().as_uri(), tmp_path / "profile", "--enable-logging=stderr", "--v=0",
                           "--dump-dom")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parser = PlotDivs()
    parser.feed(proc.stdout)
    # every console message counts, except the GPU driver's performance notes of WebGL (parallel coordinates)
    errors = [line for line in proc.stderr.splitlines()
              if ("CONSOLE" in line or "Uncaught" in line) and "GL Driver Message" not in line]
    return parser.plots, errors


def report(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@needs_chromium
def test_study_report_renders_every_plot(sweeps, capsys, tmp_path):
    code, out, _ = report(capsys, str(sweeps.b))
    page = sweeps.b / "report.html"
    assert code == 0 and str(page) in out and page.is_file()
    text = page.read_text()
    assert "<script src=" not in text and len(text) > 3_000_000  # self-contained: plotly.js inline, nothing fetched
    for title in ("Leaderboard", "Optimization history", "Parameter importances", "Parallel coordinates",
                  "Slice plots", "Learning curves", "Best config", "Environment"):
        assert f"<h2>{title}</h2>" in text
    assert "# Best trial" in text and "python" in text  # best.yaml and environment
    import keras

    assert f"<th>packages.keras</th><td>{keras.__version__}</td>" in text and "<th>keras</th>" not in text  # once
    plots, errors = render_in_chromium(page, tmp_path)
    assert len(plots) == 5 and all(plots.values()), plots
    assert errors == []


@needs_chromium
def test_comparison_report_with_baselines(sweeps, capsys, tmp_path):
    out_file = tmp_path / "cmp.html"
    code, _, _ = report(capsys, str(sweeps.folder), "--output", str(out_file))
    text = out_file.read_text()
    assert code == 0 and "<h2>Best metric per variant</h2>" in text and "<h2>Search histories</h2>" in text
    assert "baseline oracle: 0.0500" in text and "baseline global_mean" in text
    assert "Best config: a" in text and "Best config: b" in text
    plots, errors = render_in_chromium(out_file, tmp_path)
    assert len(plots) == 2 and all(plots.values()) and errors == []


def test_same_named_studies_of_two_folders_are_named_apart_in_an_experiment_report(sweeps, capsys, tmp_path,
                                                                                     monkeypatch):
    """Two results folders copied under one: their plots and headings add the folder, as the table does."""
    both = tmp_path / "both"
    for copy in ("r1", "r2"):
        shutil.copytree(sweeps.a, both / copy / "default" / "a")
    monkeypatch.chdir(tmp_path)
    code, _, _ = report(capsys, "both", "--output", str(tmp_path / "both.html"))
    text = (tmp_path / "both.html").read_text()
    assert code == 0
    for copy in ("r1", "r2"):
        assert f"Best config: a (both/{copy}/default/a)" in text
        bar = f"mlp / a (both/{copy}/default/a)".replace("/", "\\u002f")  # as plotly writes it in its JSON
        assert bar in text  # the bar of each: not one bar drawn over the other


def test_an_experiment_of_rating_and_ranking_studies_ranks_each_on_its_own_metric(mixed, capsys, tmp_path):
    """A ranking study is not put in the RMSE table: each metric has its leaderboard, bars and histories."""
    out_file = tmp_path / "mixed.html"
    code, _, _ = report(capsys, str(mixed / "mixed"), "--output", str(out_file))
    text = out_file.read_text()
    assert code == 0 and "3 studies, selection on each on its validation metric: ndcg@10 (1), rmse (2)" in text
    sections = {part.split("</h2>")[0]: part for part in text.split("<h2>")[1:]}
    for metric in ("ndcg@10", "rmse"):
        assert {f"Leaderboard (validation {metric})", f"Best metric per variant (validation {metric})",
                f"Search histories (validation {metric})"} <= set(sections)
    ranking, rating = sections["Leaderboard (validation ndcg@10)"], sections["Leaderboard (validation rmse)"]
    assert "a-rank" in ranking and "0.3000" in ranking and "b-rating" not in ranking
    assert "a-rank" not in rating and "0.8000" in rating and "0.9000" in rating
    assert "dim: 8  # valid 0.3" in sections["Best config: a-rank"]  # selected on its own metric, highest
    assert "dim: 8  # valid 0.8" in sections["Best config: b-rating"]


def test_best_configs_come_in_leaderboard_order_and_each_compared_set_has_its_table(tmp_path, capsys):
    """Best configs used to come in name order (the worst first), and a second compared set's comparison
    table replaced the first's while both sets' studies were in the report."""
    from results_helpers import RATING, fake_study

    results = tmp_path / "results"
    fake_study(results, "a-mf", RATING, [1.1, 1.0])
    fake_study(results, "b-mf", RATING, [0.8])
    folder = results / "mixed"
    pd.DataFrame({"variant": ["mf"], "valid": [1.0], "trials_complete": [2.0]}).to_csv(folder / "comparison.csv",
                                                                                      index=False)
    pd.DataFrame({"variant": ["mf"], "valid": [0.8], "trials_complete": [None]}).to_csv(
        folder / "comparison-b.csv", index=False)
    code, _, _ = report(capsys, str(folder), "--output", str(tmp_path / "two.html"))
    text = (tmp_path / "two.html").read_text()
    assert code == 0 and text.index("Best config: b-mf") < text.index("Best config: a-mf")
    sections = {part.split("</h2>")[0]: part for part in text.split("<h2>")[1:]}
    assert "<td>2</td>" in sections["comparison.csv"] and "<td>0.8</td>" in sections["comparison-b.csv"]


@needs_chromium
def test_checker_catches_a_broken_page(tmp_path):
    """The Chromium check itself can fail: an undrawn plot div and a script error are both reported."""
    page = tmp_path / "broken.html"
    page.write_text('<html><body><div id="p1" class="plotly-graph-div"></div>'
                    '<script>throw new Error("boom")</script></body></html>')
    plots, errors = render_in_chromium(page, tmp_path)
    assert plots == {"p1": False}
    assert any("boom" in e for e in errors)


@needs_chromium
def test_screenshot_option_writes_a_png(sweeps, capsys, tmp_path):
    png = tmp_path / "report.png"
    code, out, _ = report(capsys, str(sweeps.a / "study.journal"), "--output", str(tmp_path / "r.html"),
                          "--screenshot", str(png))
    assert code == 0 and str(png) in out
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width == 1400 and height > 2000
    assert png.stat().st_size > 50_000  # drawn, not blank
    code, _, err = report(capsys, str(sweeps.a / "study.journal"), "--output", str(tmp_path / "r.html"),
                          "--screenshot", "/proc/report.png")  # a place no one may write: our line, not Chromium's
    assert code == 2 and "cannot write /proc/report.png" in err and "chromium" not in err.lower()


def test_importances_need_two_finished_trials():
    study = optuna.create_study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    frame, note = importance_frame(study)
    assert frame.empty and "at least 2 finished trials; this study has 1" in note
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("y", 0, 3), n_trials=6)
    frame, note = importance_frame(study)
    assert note is None and set(frame["param"]) == {"x", "y"}


def test_report_of_an_empty_folder_says_why(capsys, tmp_path):
    code, _, err = report(capsys, str(tmp_path))
    assert code == 2 and "holds no study" in err


def test_study_report_never_shows_a_storage_password():
    """A record holding a raw RDB URL (user:secret@host): the report shows it redacted."""
    from recsearch.results.report import render_html, study_report
    from recsearch.results.studies import StudyRecord

    study = optuna.create_study(study_name="pg", direction="maximize")
    for k, v in enumerate([0.1, 0.3, 0.2]):
        study.add_trial(optuna.trial.create_trial(
            value=v, params={"model.dim": 4 + k}, distributions={"model.dim": optuna.distributions.IntDistribution(4, 16)},
            user_attrs={"valid_ndcg@10": v, "test_ndcg@10": v, "val_curve": [v], "config": "model: {name: mf}\n"}))
    config = {"model": {"name": "mf"}, "task": {"name": "ranking", "metric": "ndcg@10"}}
    record = StudyRecord(study=study, storage_url="postgresql://u:secret@h/db", experiment="x", folder=None,
                         config=config)
    text = render_html(study_report(record))
    assert "secret" not in text and "postgresql://u:***@h/db" in text


# --- scales, Pareto front, folded columns: a real 2-objective sweep (validation rmse and parameter count) ----------

def space_log_params() -> set[str]:
    """The parameters written `tag(log, ...)` in the mlp search space, as the composed config holds them."""
    from recsearch.config import compose_config

    space = compose_config(["model=mlp"]).search_space
    return {k for k, v in space.params.items() if str(v).startswith("tag(log")}


LOG_PARAMS = space_log_params()


def sections_of(folder: Path) -> dict:
    from recsearch.results.report import study_report
    from recsearch.results.studies import load_study_folder

    return {s.title: s for s in study_report(load_study_folder(folder)).sections}


def test_log_parameters_get_log_axes(pareto_study):
    slices = sections_of(pareto_study)["Slice plots"].figure
    titles = [a.text for a in slices.layout.annotations]  # subplot titles, in subplot order
    assert {"model.l2", "train.learning_rate"} <= LOG_PARAMS <= set(titles)
    for k, param in enumerate(titles):
        axis = slices.layout[f"xaxis{k + 1 if k else ''}"]
        assert (axis.type == "log") == (param in LOG_PARAMS), (param, axis.type)
    parallel = sections_of(pareto_study)["Parallel coordinates"].figure
    labels = list(parallel.layout.xaxis.ticktext)
    position = labels.index("model.l2")
    texts = [a.text for a in parallel.layout.annotations if a.x == position]
    powers = [t for t in texts if math.log10(float(t)).is_integer()]
    assert len(powers) >= 2, texts  # a log10 axis ticks at powers of ten; a linear one at 5 even steps


def test_pareto_front_history_ticks_and_folded_leaderboard(pareto_study):
    sections = sections_of(pareto_study)
    pareto = sections["Pareto front"].figure
    assert pareto.layout.xaxis.title.text == "validation rmse" and pareto.layout.yaxis.title.text == "params"
    trials = pd.read_parquet(pareto_study / "trials.parquet")
    done = trials[trials["state"] == "COMPLETE"]
    drawn = sorted(float(x) for trace in pareto.data for x in (trace.x or ()))
    assert drawn == pytest.approx(sorted(done["value"]))  # every finished trial, at its validation rmse
    history = sections["Optimization history"].figure
    assert history.layout.xaxis.dtick == 1 and history.layout.xaxis.tickformat == "d"
    parallel = sections["Parallel coordinates"].figure
    assert parallel.layout.title.yref == "container" and parallel.layout.margin.t >= 90
    board = sections["Leaderboard"].html
    assert "same in every row: kind trial, experiment default, study two, variant mlp" in board
    assert "<th>variant</th>" not in board and "<th>valid</th>" in board


@needs_chromium
def test_report_with_log_axes_and_pareto_renders_and_screenshots(pareto_study, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the user runs it from another folder
    code, out, _ = report(capsys, str(pareto_study), "--output", "two.html", "--screenshot", "two.png")
    assert code == 0 and "two.png" in out
    page = (tmp_path / "two.html").read_text()
    assert "<h2>Pareto front</h2>" in page and '"type":"log"' in page
    plots, errors = render_in_chromium(tmp_path / "two.html", tmp_path)
    assert len(plots) == 6 and all(plots.values()), plots
    assert errors == []
    head = (tmp_path / "two.png").read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24])[0] == 1400


def test_a_study_name_that_is_not_there_is_an_error_not_ignored(mixed, capsys, tmp_path):
    """--study with a study folder or an experiment folder names that study, or fails saying what is there."""
    import recsearch
    from recsearch.errors import RecsearchError

    experiment = mixed / "mixed"
    with pytest.raises(RecsearchError, match="is the folder of study 'b-rating', not 'xx'"):
        recsearch.load_study(experiment / "b-rating", study="xx")
    code, _, err = report(capsys, str(experiment), "--study", "xx", "--output", str(tmp_path / "x.html"))
    assert code == 2 and "holds no study 'xx'; it holds: a-rank, b-rating, c-rating" in err
    code, _, _ = report(capsys, str(experiment), "--study", "c-rating", "--output", str(tmp_path / "c.html"))
    assert code == 0 and "<title>Study c-rating" in (tmp_path / "c.html").read_text()
