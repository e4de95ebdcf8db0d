"""The Python API: the functions the CLI calls, taking overrides, keyword arguments or a DictConfig, returning
objects (nothing printed). Re-exported at the top level: `recsearch.train(model="mf", train={"epochs": 1})`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from recsearch.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig

    from recsearch.runs import MultirunRecord, RunRecord
    from recsearch.search.sweep import SweepReport


def compose(config: Any = None, *, config_file: str | Path | None = None, **values: Any) -> "DictConfig":
    """The validated config from overrides (`["model=mf"]`), keyword values (`model="mf", train={"epochs": 1}`),
    a complete saved YAML file (`config_file=`), or a DictConfig (validated as it is; keywords applied on top).

    Example: `recsearch.compose(["model=mf"], train={"epochs": 1}).train.epochs == 1`.
    """
    from omegaconf import DictConfig, OmegaConf

    from recsearch.config import compose_config, load_config_file, parse_overrides
    from recsearch.config.compose import apply_to_complete
    from recsearch.config.validate import check_overrides

    overrides = [*_as_overrides(config), *keyword_overrides(values)]
    check_overrides(overrides, command="train")  # one ConfigError line where Hydra would raise its own
    if isinstance(config, DictConfig):
        plain = OmegaConf.create(OmegaConf.to_container(config))  # untyped, so validation names a bad key
        return apply_to_complete(plain, parse_overrides(overrides))
    if config_file is not None:
        return load_config_file(config_file, overrides)
    return compose_config(overrides)


def keyword_overrides(values: Mapping[str, Any], prefix: str = "", *, each: bool = False) -> list[str]:
    """Hydra overrides for keyword values: nested mappings become dotted keys, strings are quoted when needed.
    With `each` (a multirun), a list or tuple holds the values to run one by one (Hydra's comma list).
    A mapping whose own keys hold dots (a search space's `params` and `conditions`: `{"model.width": ...}`) is
    one dict value merged into that node, as `++search_space.params={...}` does on the command line.

    Example: `keyword_overrides({"model": "mf", "train": {"epochs": 2}})` -> `["model=mf", "train.epochs=2"]`;
    `keyword_overrides({"model": ["mf", "gmf"]}, each=True)` -> `["model=mf,gmf"]`.
    """
    out = []
    for key, value in values.items():
        if isinstance(value, Mapping) and any("." in str(k) for k in value):
            out.append(f"++{prefix}{key}={_literal(value)}")
        elif isinstance(value, Mapping):
            out += keyword_overrides(value, f"{prefix}{key}.", each=each)
        elif each and isinstance(value, (list, tuple)) and value:
            out.append(f"{prefix}{key}={','.join(_literal(v) for v in value)}")
        else:
            out.append(f"{prefix}{key}={_literal(value)}")
    return out


def _literal(value: Any) -> str:
    """`value` in Hydra's override grammar."""
    import re

    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        for key in value:  # a dict key is unquoted in Hydra's grammar (`{a:b: 1}` would read as `{a: 'b: 1'}`)
            if not re.fullmatch(r"[\w./@-]+", str(key)):
                raise ConfigError(f"key {str(key)!r} of a keyword dict: Hydra's overrides take keys of letters, "
                                  "digits and _ . / @ - only")
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_./@:+-]+", text) and not text.startswith(("+", "-")):
        return text
    # Hydra's quoted strings: backslashes are literal except in a run before a quote or the end, which is doubled
    return "'" + re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), text) + "'"


def _as_overrides(config: Any) -> list[str]:
    from omegaconf import DictConfig

    if config is None or isinstance(config, DictConfig):
        return []
    if isinstance(config, str):
        return [config]
    return [str(item) for item in config]


def train(config: Any = None, *, multirun: bool = False, save_model: bool = True, prepared: Any = None,
          on_run: Callable[[int, int, list[str]], None] | None = None,
          on_epoch: Callable[[int, dict[str, float]], None] | None = None,
          **values: Any) -> "RunRecord | MultirunRecord":
    """Train one config and write its run folder; with `multirun=True`, every combination of comma lists
    (in overrides) and keyword lists (`model=["mf", "gmf"]`; a list-valued setting takes a list of lists).
    `on_run(i, n, overrides)` is called as each run of a multirun starts, `on_epoch(epoch, logs)` after each
    epoch of a single run (`logs`: loss, val_<metric>).

    Returns a RunRecord (`run_dir`, `summary` of metrics, `model`) or a MultirunRecord (`runs`, `table`,
    `table_path`). `prepared` reuses an already prepared split (`recsearch.training.run.prepare_for(cfg)`);
    keyword `data=...` is the config section, as in `train(data="synthetic")`.
    Example: `recsearch.train(["model=mf"], train={"epochs": 1}).summary["valid_rmse"]`.
    """
    from omegaconf import DictConfig

    from recsearch.config.validate import check_overrides
    from recsearch.runs import run_multirun, run_training

    if multirun:
        if isinstance(config, DictConfig):
            raise ConfigError("multirun composes the config groups: pass overrides, not a DictConfig")
        if on_epoch is not None:
            raise ConfigError("on_epoch reports the epochs of a single run; a multirun reports its runs to on_run")
        overrides = [*_as_overrides(config), *keyword_overrides(values, each=True)]
        check_overrides(overrides, command="train", multirun=True)
        return run_multirun(overrides, save_model=save_model, on_run=on_run)
    return run_training(compose(config, **values), data=prepared, save_model=save_model, on_epoch=on_epoch)


def sweep(config: Any = None, *, show_progress: bool = False, **values: Any) -> "SweepReport | Path":
    """Run (or resume) the Optuna study of the config's search space; returns the sweep's report (`folder`,
    `study_name`, `counts`). An experiment with `compare.variants` runs one study per variant and returns the
    folder of its comparison.csv / comparison.md (comparison-NAME.* for a set named by search.study_name).

    Takes overrides and keyword values (a sweep records its overrides so workers and resumes recompose
    them). Example: `recsearch.sweep(model="mf", search={"n_trials": 5}).folder`.
    """
    from omegaconf import DictConfig

    from recsearch.config.validate import check_overrides
    from recsearch.search.sweep import run_sweep

    if isinstance(config, DictConfig):
        raise ConfigError("sweep records its overrides so that resumes and workers recompose them: pass overrides "
                          "or keyword values, not a DictConfig")
    overrides = [*_as_overrides(config), *keyword_overrides(values)]
    check_overrides(overrides, command="sweep")
    cfg = compose(overrides)
    if not cfg.compare.variants:
        return run_sweep(overrides, show_progress=show_progress)
    from recsearch.search.compare import run_comparison
    from recsearch.training.run import experiment_dir

    if run_comparison(overrides, show_progress=show_progress):
        raise KeyboardInterrupt  # a variant's sweep was interrupted: finished trials are kept, re-run to resume
    return experiment_dir(cfg)


@dataclass
class Study:
    """A finished (or running) study: its trials table, best config and best model, read from its storage."""

    name: str
    study: Any  # optuna.Study
    folder: Path | None
    trials: "pd.DataFrame"
    best_config: "DictConfig | None"
    _model: Any = field(default=None, repr=False)

    def best_model(self) -> Any:
        """The best trial's Keras model: the kept `models/trial_<N>.keras`, else retrained from its config."""
        if self._model is None:
            if self.best_config is None:
                raise ConfigError(f"study {self.name!r} has no finished trial yet")
            if self.folder is not None and (self.folder / "best.yaml").is_file():
                from recsearch.recommend.recommender import load_model_for

                self._model = load_model_for(self.folder).model
            else:
                from recsearch.training.run import train_once

                self._model = train_once(self.best_config).result.model
        return self._model


def load_study(path_or_url: str | Path, study: str | None = None) -> Study:
    """A study from its folder (`results/<exp>/<study>`), a journal file or a storage URL (`study` names one).

    Example: `s = recsearch.load_study("results/default/mlp-rating"); s.trials; s.best_config; s.best_model()`.
    """
    from recsearch.config import validate_config
    from recsearch.results.studies import load_target
    from recsearch.results.study_tables import best_trial, trials_frame

    record = load_target(str(path_or_url), study)
    best = best_trial(record.study)
    config = None
    if best is not None and best.user_attrs.get("config"):
        from omegaconf import OmegaConf

        config = validate_config(OmegaConf.create(best.user_attrs["config"]))
    return Study(name=record.name, study=record.study, folder=record.folder, trials=trials_frame(record.study),
                 best_config=config)


def leaderboard(*paths: str | Path, study: str | None = None, metric: str | None = None, per_trial: bool = False,
                filters: Sequence[str] = (), top: int | None = None, baselines: bool = True) -> "pd.DataFrame":
    """One ranked table across the studies under `paths` (default: the results folder), with baselines; a
    `metric` that no study or baseline reports is an error listing those that are. `frame.attrs["mixed_settings"]`
    maps each shown study whose trials ran with different shared settings (a resume with other `train.epochs`)
    to what differs (`study_tables.mixed_settings`): their scores are not comparable as they stand;
    `frame.attrs["pareto"]` each shown study of several objectives to where its Pareto front is.

    Example: `recsearch.leaderboard("results", filters=["task=rating"], top=5)`; a list of paths works as well.
    """
    import pandas as pd

    from recsearch.errors import RecsearchError
    from recsearch.results.leaderboard import check_metric, mixed_notes, pareto_notes, top_rows
    from recsearch.results.leaderboard import leaderboard as rank_studies
    from recsearch.results.studies import NoStudyReadable, baseline_files, load_many, read_baselines

    if top is not None and top < 1:
        raise RecsearchError(f"top must be at least 1, got {top}")
    flat = [q for p in paths for q in (p if isinstance(p, (list, tuple)) else [p])]  # leaderboard(["r1", "r2"]) too
    targets = [str(p) for p in flat] or [str(compose().paths.results_dir)]
    files = baseline_files(targets) if baselines else []
    try:
        records = load_many(targets, study)
    except NoStudyReadable:
        if not files:
            raise
        records = []  # the baselines beside studies that could not be read (each skip was said) are still ranked
    if not records and not files:
        raise RecsearchError(f"no study found under {', '.join(targets)}; run `recsearch sweep` first")
    base = pd.concat([read_baselines(f) for f in files], ignore_index=True) if files else None
    if metric:
        check_metric(metric, records, base)
    frame = rank_studies(records, base, metric=metric, per_trial=per_trial, filters=filters)
    if top:
        frame = top_rows(frame, top)
    frame.attrs["mixed_settings"] = mixed_notes(records, frame)
    frame.attrs["pareto"] = pareto_notes(records, frame)
    return frame


def report(target: str | Path, *, study: str | None = None, output: str | Path | None = None) -> Path:
    """Write the HTML report of a study (folder, journal or URL) or of an experiment folder; returns its path.

    Example: `recsearch.report("results/default/mlp-rating")` -> results/default/mlp-rating/report.html.
    """
    from recsearch.errors import RecsearchError
    from recsearch.results.report import comparison_report, study_report, write_report
    from recsearch.results.studies import (baseline_files, find_study_folders, is_storage, load_many, load_target,
                                           read_baselines)

    folder = Path(target)
    if not is_storage(str(target)) and folder.is_dir() and not (folder / "sweep.yaml").is_file():
        studies = find_study_folders(folder)
        if not studies:
            raise RecsearchError(f"{folder} holds no study (no sweep.yaml under it)")
        records = load_many([str(folder)], command="report")  # one it cannot open (a redacted URL): skipped, said;
        # none: NoStudyReadable says why
        if study is not None:  # one study of the experiment folder: its own report
            chosen = [r for r in records if r.name == study]
            if not chosen:
                raise RecsearchError(f"{folder} holds no study {study!r}; it holds: "
                                     f"{', '.join(r.name for r in records)}")
            return write_report(study_report(chosen[0]), Path(output) if output else chosen[0].folder / "report.html")
        files = [f for f in baseline_files([str(folder)]) if f.parent == folder]
        made = comparison_report(folder, records, read_baselines(files[0]) if files else None)
        default = folder / "report.html"
    else:
        record = load_target(str(target), study, command="report")
        made = study_report(record)
        default = (record.folder / "report.html") if record.folder else Path(f"report-{record.name}.html")
    return write_report(made, Path(output) if output else default)


def load_model(path: str | Path, *, compile: bool = False) -> Any:
    """A trained Keras model, in any process: a `.keras` file (a run's `model.keras`, a study's
    `models/trial_<N>.keras`), or a run or study folder (its model; a study's best trial, retrained when it
    was not kept). recsearch's custom layers are registered first, which plain `keras.saving.load_model` lacks.
    For predicting by default; `compile=True` loads a rating model's loss, metrics and optimizer with the
    optimizer's state after its last epoch, to train on with `fit` (ranking and AutoRec models are saved
    without their training wrapper: an error says so).

    Example: `model = recsearch.load_model("results/default/mlp-rating/models/trial_4.keras")`.
    """
    from recsearch.errors import RecsearchError
    from recsearch.recommend.recommender import load_keras_file, load_model_for

    path = Path(path)
    if path.is_dir():
        return load_model_for(path, compile=compile).model
    if not path.is_file():
        raise RecsearchError(f"{path}: no such model file or folder")
    return load_keras_file(path, compile)


def recommendations(target: str | Path, user: str | int, n: int = 10, *, trial: int | None = None,
                    min_ratings: int = 0) -> "pd.DataFrame":
    """The `n` items a run's or study's model scores highest for `user` (the dataset's own id, e.g. MovieLens
    userId 414) among those the user has not rated: item_index (the model's item input), item_id, title, genres,
    score, best first. A study folder uses its best trial's model (`trial`: another). `min_ratings` keeps to
    items with that many training ratings. What `recsearch recommend` prints, as a table (not named `recommend`:
    that is the package `recsearch.recommend`).

    Example: `recsearch.recommendations("results/default/mlp-rating", 414, n=5)["title"]`.
    """
    from recsearch.recommend.recommender import recommend_for

    return recommend_for(target, user, n, trial=trial, min_ratings=min_ratings).items


def _check_builder_signature(name: str, builder: Callable) -> None:
    """ConfigError when `builder` cannot be called as builder(model_cfg, data): found when registering, not as
    every trial of a sweep failing alike."""
    import inspect

    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError):  # no signature to read (a builtin): left to the first call
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise ConfigError(f"register_model({name!r}): the builder is called as {builder.__name__}(model_cfg, data), "
                          f"but it takes {signature}; give it those two parameters") from None


def register_model(name: str, *, schema: type, tasks: Sequence[str] = ("rating", "ranking"), description: str = "",
                   search_space: Mapping[str, Any] | None = None) -> Callable[[Callable], Callable]:
    """Decorator: register a model builder `builder(model_cfg, data) -> keras.Model` under `name`.

    `schema` is a dataclass with a `name` field (subclass `recsearch.models.schemas.ModelConfig`); its defaults
    become the config option `model=NAME`, and `search_space` (a `{"params": ..., "conditions": ...}` block in
    the sweep grammar) the option `search_space=NAME`. The builder must be importable by its module and name
    (a notebook's or script's `__main__` works in-process). Example:
    `@recsearch.register_model("dot", schema=DotConfig)` above `def build_dot(model_cfg, data): ...`.
    """
    import dataclasses

    if not dataclasses.is_dataclass(schema) or "name" not in {f.name for f in dataclasses.fields(schema)}:
        raise ConfigError(f"register_model({name!r}): schema must be a dataclass with a `name` field")

    def register(builder: Callable) -> Callable:
        from hydra.core.config_store import ConfigStore
        from omegaconf import OmegaConf

        from recsearch.models.registry import MODELS, ModelSpec

        if name in MODELS and MODELS[name].builder.startswith("recsearch."):
            raise ConfigError(f"register_model({name!r}): a built-in model family has that name; choose another")
        if "." in builder.__qualname__:
            raise ConfigError(f"register_model({name!r}): the builder must be a module-level function")
        _check_builder_signature(name, builder)
        MODELS[name] = ModelSpec(name, schema, f"{builder.__module__}:{builder.__qualname__}", tuple(tasks),
                                 description or (builder.__doc__ or "").strip().split("\n")[0])
        defaults = OmegaConf.to_container(OmegaConf.structured(schema))
        ConfigStore.instance().store(group="model", name=name, node={**defaults, "name": name})
        if search_space is not None:
            ConfigStore.instance().store(group="search_space", name=name, node=dict(search_space))
        return builder

    return register
