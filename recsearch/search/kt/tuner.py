"""The KerasTuner tuner of the kerastuner engine: trains each trial the recsearch way, records it in the study."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from keras_tuner.engine.base_tuner import BaseTuner

from recsearch.results.study_tables import HYPERBAND_EPOCHS
from recsearch.search import interrupts, live
from recsearch.search.worker import WorkerSpec


def _interrupted(trial: Any) -> bool:
    return trial.user_attrs.get("fail_reason") == interrupts.INTERRUPTED


class StopSearch(Exception):
    """The study budget or `search.timeout` is spent: no new trial is created."""


class StudyTuner(BaseTuner):
    """A `BaseTuner` whose `run_trial` trains through `recsearch.search.objective.run_trial` and records the
    trial in the Optuna study (idempotently: a trial recorded before a kill is not trained again)."""

    def __init__(self, oracle: Any, *, study: Any, cfg: Any, spec: WorkerSpec, space: Any, data: Any,
                 on_trial_end: Callable[[], None] | None, **kwargs: Any):
        self.study, self.cfg, self.spec, self.space, self.data = study, cfg, spec, space, data
        self.notify, self.ran = on_trial_end, 0
        super().__init__(oracle, **kwargs)

    def pre_create_trial(self) -> None:
        from optuna.trial import TrialState

        from recsearch.search.kt.engine import deadline_passed

        interrupts.stop_if_interrupted()  # a Ctrl-C whose KeyboardInterrupt was swallowed before this trial
        done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if len(done) >= int(self.cfg.search.n_trials) or deadline_passed(self.spec):
            raise StopSearch

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        """Train the tuner's values; return the validation metric KerasTuner optimises."""
        import keras_tuner as kt

        objective = f"val_{self.cfg.task.metric}"
        recorded = self._recorded(trial.trial_id)
        if recorded is not None:  # finished and recorded, killed before KerasTuner saved its end
            if recorded.values:
                return {objective: recorded.values[0]}
            raise kt.errors.FailedTrialError(recorded.user_attrs.get("fail_reason", "failed"))
        value, reason = self._train_and_record(trial)
        self.ran += 1
        if self.notify:
            self.notify()
        if reason is not None:
            raise kt.errors.FailedTrialError(reason)
        return {objective: value}

    def _train_and_record(self, trial: Any) -> tuple[float | None, str | None]:
        """Run one trial through the Optuna engine's trial function; add it to the study."""
        from optuna.trial import FixedTrial

        from recsearch.search.kt.engine import record_trial
        from recsearch.search.kt.space import from_kerastuner, searched
        from recsearch.search.objective import TrialContext, run_trial
        from recsearch.search.storage import process_identity
        from recsearch.search.worker import keep_models_safely

        values = trial.hyperparameters.values
        params = searched(self.space, from_kerastuner(self.space, values))
        overrides = list(self.spec.overrides)
        if HYPERBAND_EPOCHS in values:  # Hyperband's budget for this trial; trained from scratch, so reproducible
            overrides.append(f"train.epochs={int(values[HYPERBAND_EPOCHS])}")
        number = len(self.study.get_trials(deepcopy=False))
        fixed, started = FixedTrial(params, number), datetime.now()
        ctx = TrialContext(overrides, self.space, self.data, [])
        attrs = {**process_identity(), "kerastuner_trial_id": trial.trial_id,
                 "kerastuner_tuner": str(self.cfg.search.tuner),
                 **{k: v for k, v in values.items() if k.startswith("tuner/")}, **self._retry_of(trial.trial_id),
                 **self._promoted_from(values.get("tuner/trial_id"))}

        def record(outcome: Any, reason: str | None = None) -> None:
            record_trial(self.study, number=number, params=params, space=self.space, started=started,
                         attrs={**fixed.user_attrs, **attrs, **({"fail_reason": reason} if reason else {})},
                         values=outcome.values if outcome else None, curve=list(fixed.user_attrs.get("val_curve", [])))

        try:
            outcome = run_trial(fixed, ctx)
            interrupts.stop_if_interrupted()  # the signal came during this trial but its KeyboardInterrupt was lost
        except KeyboardInterrupt:  # recorded as the Optuna engine does; KerasTuner runs the trial again on resume
            record(None, interrupts.INTERRUPTED)
            raise
        except Exception as exc:  # noqa: BLE001 - a failing trial is recorded and the search goes on
            if interrupts.interrupted():  # a Ctrl-C that C code turned into another error: still a Ctrl-C
                record(None, interrupts.INTERRUPTED)
                raise KeyboardInterrupt(interrupts.INTERRUPTED) from exc
            reason = live.failure_reason(exc)
            live.say_trial_failed(number, reason)
            outcome = None
        record(outcome, None if outcome else reason)
        if outcome is not None and int(self.cfg.search.keep_models) > 0:
            keep_models_safely(self.study, Path(self.spec.folder), number, outcome.model,
                                int(self.cfg.search.keep_models))
        return (outcome.values[0], None) if outcome else (None, reason)

    def _recorded(self, trial_id: str) -> Any | None:
        """The study's record of KerasTuner trial `trial_id` when it finished (not when a Ctrl-C stopped it)."""
        for t in self.study.get_trials(deepcopy=False):
            if t.user_attrs.get("kerastuner_trial_id") == trial_id and not _interrupted(t):
                return t
        return None

    def _retry_of(self, trial_id: str) -> dict[str, int]:
        """`{"retry_of": N}` when a Ctrl-C stopped KerasTuner trial `trial_id` as the study's trial N, as the
        Optuna engine marks its re-runs (failure counts leave N out), else {}."""
        stopped = [t.number for t in self.study.get_trials(deepcopy=False)
                   if t.user_attrs.get("kerastuner_trial_id") == trial_id and _interrupted(t)]
        return {"retry_of": stopped[-1]} if stopped else {}

    def _promoted_from(self, trial_id: str | None) -> dict[str, int]:
        """`{"promoted_from": N}` when Hyperband promoted the study's trial N (its `tuner/trial_id`) to this one,
        the column that says which trial a bigger budget continues (trained again from scratch), else {}."""
        earlier = self._recorded(trial_id) if trial_id else None
        return {"promoted_from": earlier.number} if earlier is not None else {}

    def save_model(self, trial_id: str, model: Any, step: int = 0) -> None:
        """Models are kept by recsearch (`search.keep_models`), not by KerasTuner."""

    def load_model(self, trial: Any) -> Any:
        """The kept `.keras` model of a KerasTuner trial (None when it was not among the kept best)."""
        import keras

        recorded = self._recorded(trial.trial_id)
        path = Path(self.spec.folder) / "models" / f"trial_{recorded.number}.keras" if recorded else None
        return keras.saving.load_model(path) if path is not None and path.is_file() else None
