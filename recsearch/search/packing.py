"""Trial packing (`search.pack_size` > 1): ask up to N trials, train those of one architecture shape as one
compiled program (members vmapped by `recsearch.training.jax_loop`), prune each on its own curve, tell each
its own result with the same user attrs an unpacked trial gets.

Packing needs the JAX backend and rating on (user, item) pairs; otherwise (and for a pack of one) each
trial runs unpacked, exactly as without packing.
"""

from __future__ import annotations

import math
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recsearch.search import interrupts, live


@dataclass
class PackedTrial:
    """One claimed trial of a pack: its config, Keras model, pruning callback, outcome."""

    trial: Any
    cfg: Any
    model: Any = None
    twin: Any = None  # the wider twin it trains in (trainer.padded_twin), or None
    pruning: Any = None
    stall: Any = None  # its `train.stall_epochs` rule (training.stall), or None
    key: str = ""
    failed: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


def packable(cfg: Any) -> bool:
    """Whether trials of this config can be packed here: JAX backend, rating task, a pair-trained model."""
    import keras

    return why_not_packable(cfg, keras.backend.backend()) is None


def why_not_packable(cfg: Any, backend: str) -> str | None:
    """Why trials of `cfg` trained on `backend` cannot be packed, or None when they can."""
    from recsearch.training.backend import trains_in_jax_loop

    if not trains_in_jax_loop(cfg):
        return (f"packing trains rating models on (user, item) pairs, and this is task={cfg.task.name} with "
                f"model={cfg.model.name}")
    if backend != "jax":
        return f"packing needs the JAX backend, and this sweep trains on {backend}"
    return None


def run_pack_round(study: Any, ctx: Any, folder: Path, cfg: Any, *, pack_size: int) -> int:
    """Claim up to `pack_size` trials, train them packed by shape, tell each; the number of trials run (0: none
    left in the budget)."""
    from recsearch.search.worker import claim_trial, continuation_sampler

    trials = []
    for _ in range(pack_size):
        trial = claim_trial(study, folder, int(cfg.search.n_trials),
                            reseed=lambda n: continuation_sampler(cfg, ctx.space, n), space=ctx.space)
        if trial is None:
            break
        trials.append(trial)
    if not trials:
        return 0
    run_pack(study, trials, ctx, folder, int(cfg.search.keep_models))
    return len(trials)


def run_pack(study: Any, trials: list, ctx: Any, folder: Path, keep_models: int) -> None:
    """Sample, build and group the claimed trials, train each group as one program, tell every trial."""
    from recsearch.search.worker import fail_trial

    try:
        _run_pack(study, trials, ctx, folder, keep_models)
    except KeyboardInterrupt:
        for trial in trials:
            if not study._storage.get_trial(trial._trial_id).state.is_finished():
                fail_trial(study, trial, interrupts.INTERRUPTED)
        raise


def _run_pack(study: Any, trials: list, ctx: Any, folder: Path, keep_models: int) -> None:
    from recsearch.search.storage import heartbeat
    from recsearch.search.worker import fail_trial, run_one

    with ExitStack() as beats:
        for trial in trials:
            beats.enter_context(heartbeat(study, trial))
        members, unpackable = [], []
        for trial in trials:
            try:
                member = _prepare(trial, ctx)
            except Exception as exc:  # noqa: BLE001 - a failing trial is recorded and the pack goes on
                interrupts.raise_if_interrupted(exc)
                _report_failure(study, trial, exc, fail_trial)
                continue
            (members if member is not None else unpackable).append(member or trial)
        groups: dict[str, list[PackedTrial]] = {}
        for member in members:
            groups.setdefault(member.key, []).append(member)
        for group in groups.values():
            _train_group(study, group, ctx, folder, keep_models)
    for trial in unpackable:
        run_one(study, trial, ctx, folder, keep_models)


def _prepare(trial: Any, ctx: Any) -> PackedTrial | None:
    """Sample the trial, record its config attrs, build and compile its model; None when it cannot be packed."""
    from recsearch.models import build_model
    from recsearch.search.objective import _provenance, trial_config, write_attrs
    from recsearch.search.pruning import OptunaPruning
    from recsearch.training.backend import seed_everything
    from recsearch.training.jax_loop import architecture_key
    from recsearch.training.stall import stall_stop
    from recsearch.training.trainer import compile_model, padded_twin, schedule_for

    cfg = trial_config(ctx, ctx.space.sample(trial))
    if not packable(cfg):
        return None
    write_attrs(trial, _provenance(cfg, ctx))
    start = time.perf_counter()
    seed_everything(int(cfg.train.seed), deterministic=bool(cfg.train.deterministic))
    model = build_model(cfg.model, ctx.data)
    compile_model(model, cfg, ctx.data)
    schedule = schedule_for(cfg, ctx.data)
    twin = padded_twin(cfg, ctx.data, model)
    pruning = OptunaPruning(trial, f"val_{cfg.task.metric}", report=not ctx.objectives)
    key = architecture_key(twin.model if twin is not None else model, schedule) + repr(schedule)
    member = PackedTrial(trial, cfg, model, twin, pruning, stall_stop(cfg, ctx.data), key)
    member.attrs["build_s"] = time.perf_counter() - start
    return member


def _train_group(study: Any, group: list[PackedTrial], ctx: Any, folder: Path, keep_models: int) -> None:
    """Train one shape's members as one program; tell each trial its own outcome."""
    from recsearch.search.worker import fail_trial
    from recsearch.training.jax_loop import Member, fit_members
    from recsearch.training.trainer import schedule_for

    start = time.perf_counter()
    try:
        # one key, one shape: a member already at the twin's width (no twin of its own) maps into it unchanged
        twin = next((m.twin for m in group if m.twin is not None), None)
        members = [Member(m.model, int(m.cfg.train.seed), [m.pruning, *([m.stall] if m.stall else [])],
                          width=int(m.cfg.model.embedding_dim) if twin is not None else 0) for m in group]
        fits, timings = fit_members(members, ctx.data.train, ctx.data.valid, ctx.data.test,
                                    schedule_for(group[0].cfg, ctx.data), twin)
    except Exception as exc:  # noqa: BLE001 - the pack's trials fail together, the sweep goes on
        interrupts.raise_if_interrupted(exc)
        for member in group:
            _report_failure(study, member.trial, exc, fail_trial)
        return
    share = (time.perf_counter() - start) / len(group)
    for member, fit in zip(group, fits):
        _tell_member(study, member, fit, ctx, folder, keep_models,
                     duration=share + member.attrs["build_s"], timings=timings, size=len(group))


def _tell_member(study: Any, member: PackedTrial, fit: Any, ctx: Any, folder: Path, keep_models: int, *,
                 duration: float, timings: dict[str, float], size: int) -> None:
    """Record a member's attrs as `run_trial` does and tell Optuna (complete, pruned or failed)."""
    from optuna.trial import TrialState

    from recsearch.search.objective import _extra, write_attrs
    from recsearch.search.worker import fail_trial, keep_models_safely, tell_trial
    from recsearch.training.trainer import TrainingDiverged

    trial, pruning, metric = member.trial, member.pruning, member.cfg.task.metric
    write_attrs(trial, dict(val_curve=pruning.curve, duration_s=round(duration, 3), packed_with=size,
                            timings={k: round(v / size, 4)
                                     for k, v in {**timings, "build_s": member.attrs["build_s"] * size}.items()}))
    if not all(math.isfinite(v) for v in fit.history.get("loss", [])):
        _report_failure(study, trial, TrainingDiverged(
            f"training loss diverged (not finite) at epoch {len(fit.history['loss'])}"), fail_trial)
        return
    write_attrs(trial, dict(**fit.metrics, epochs_run=len(fit.history["loss"]), best_epoch=fit.best_epoch,
                            n_params=int(member.model.count_params()), pruned_at=pruning.pruned_at,
                            stalled_at=member.stall.stalled_at if member.stall else None))
    values = [fit.metrics[f"valid_{metric}"]] + [_extra(obj, member.model, ctx.data) for obj in ctx.objectives]
    if not np.isfinite(values[0]):
        _report_failure(study, trial, TrainingDiverged(f"validation {metric} is not finite"), fail_trial)
        return
    if pruning.pruned:
        tell_trial(study, trial, state=TrialState.PRUNED)
    elif tell_trial(study, trial, values) and keep_models > 0:
        keep_models_safely(study, folder, trial.number, member.model, keep_models)


def _report_failure(study: Any, trial: Any, exc: BaseException, fail: Any) -> None:
    """Fail the trial with a one-line reason, as the unpacked worker does."""
    reason = live.failure_reason(exc)
    fail(study, trial, reason)
    live.say_trial_failed(trial.number, reason)
