"""A study of every model family, then `recommend` on each in a fresh process (custom layers registered by the
package) and `leaderboard --metric` checked against what the studies report. Real processes, tiny data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsearch.models import MODELS

REPO = Path(__file__).resolve().parents[2]
TINY = ["data=synthetic", "data.synthetic.n_users=50", "data.synthetic.n_items=40", "data.synthetic.n_ratings=1000",
        "train.epochs=1", "train.batch_size=256", "search.n_trials=1", "search.keep_models=1", "+compare.baselines=false"]


SEPARATOR = "\n=== next family ===\n"
RECOMMEND_EACH = f"""import sys
from recsearch.cli import main
for folder in sys.argv[1:]:
    print({SEPARATOR!r}, flush=True)
    rc = main(["recommend", folder, "--user", "3", "-n", "3"])
    print("rc", rc, flush=True)
"""


def _cli(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recsearch", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


@pytest.mark.first
@pytest.mark.slow
def test_recommend_and_leaderboard_on_a_study_of_every_family(tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(REPO), "RECSEARCH_RESULTS_DIR": str(results),
           "RECSEARCH_CACHE_DIR": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    families = sorted(MODELS)
    sweep = _cli(["sweep", "--no-progress", *TINY, f"+compare.variants=[{','.join(families)}]"], tmp_path, env)
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    kept = {name: list((results / "default" / name / "models").glob("trial_*.keras")) for name in families}
    assert all(kept.values()), f"no model kept: {[name for name, files in kept.items() if not files]}"
    # `recommend` on each in one fresh process, which never built those models: each family's custom layers load
    # as the package registers them (one process per family cost a minute of start-ups and no more coverage)
    folders = [str(results / "default" / name) for name in families]
    rec = subprocess.run([sys.executable, "-c", RECOMMEND_EACH, *folders], capture_output=True, text=True, cwd=tmp_path,
                         env=env, timeout=600)
    assert rec.returncode == 0 and "Traceback" not in rec.stderr, rec.stderr[-3000:]
    outputs = dict(zip(families, rec.stdout.split(SEPARATOR)[1:]))
    for name in families:
        assert outputs[name].rstrip().endswith("rc 0"), f"{name}: {outputs[name][-1500:]} {rec.stderr[-1500:]}"
        assert "retrained" not in outputs[name] and kept[name][0].name in outputs[name], name

    bad = _cli(["leaderboard", "--metric", "nope"], tmp_path, env)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1 and "metric 'nope'" in lines[0], bad.stderr
    assert "available: rmse, mae" in lines[0]
    good = _cli(["leaderboard", "--metric", "mae", "--format", "csv"], tmp_path, env)
    assert good.returncode == 0 and all(name in good.stdout for name in families), good.stderr
