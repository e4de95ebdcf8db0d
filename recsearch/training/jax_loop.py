"""Fast rating training on the JAX backend: N stacked members trained by one compiled program.

A member is a built, compiled Keras (user, item) -> rating model with its own initial weights, learning
rate, L2 factors, dropout rates, momentum or weight decay, and seed: values fed to the program, not compiled
into it, so trials that differ only in these share one program. One trial is one member, a packed group of
trials is many; a member may train inside a twin of wider embeddings (`Twin`, `recsearch.training.widths`).
Members are vmapped inside one jitted program per architecture shape: an epoch (a `lax.scan` over
fixed-size batches built from Keras's `stateless_call` and the optimizer's `stateless_apply`), then the
evaluation of the resulting weights. One compilation serves every epoch with its validation, the test
scoring of the best weights, and every later trial of the same shape (programs are cached by that shape).
Per-epoch semantics follow `fit` with EarlyStopping(restore_best_weights=True) and TerminateOnNaN:
callbacks see `loss` and `val_<metric>` each epoch and may set `model.stop_training`; a stopped member's
results are final while the rest go on (its lane of the pack computes on, unread). Afterwards each Keras
model holds its best weights, and its optimizer's state after its last epoch (as `fit` leaves it) is written
into its optimizer when the model is saved or handed out (`with_optimizer_state`).

Speed (CPU, measured side by side by `benchmarks/epoch.py --loop`): each epoch's batch order is drawn on
the host, one order shared by members with the same seed (no in-program sort, unbatched gathers); dropout
masks come from a short integer hash fused into the layers' kernels (`training/hashed_dropout.py`), and any
other random draw (a user layer's noise) from threefry lowered unrolled with both words of each hash used.
Compile time (most of a new shape's cost on CPU) is kept down by one program per shape (not an epoch
program and an evaluation program), by updating the small variables as one vector (`_FlatLayout`), and by
those hashed dropout masks (threefry's were the longest kernels LLVM compiled).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from recsearch.models.host_init import host_initial_values
from recsearch.training.hashed_dropout import hashed_dropout_while_tracing
from recsearch.training.widths import WidthMap, width_map

EVAL_CHUNK = 8192
# Compiled architectures kept per process (least recently used dropped, memory freed): about 11 MiB each for the
# default `mlp` on ml-latest-small. The replayed TPE sweep (benchmarks/replay.py) compiles 67 of its 96 trials
# keeping 4, 51 keeping 8, 50 keeping 16 (an LRU count over its draws); 8 grows a worker by about 45 MiB.
MAX_PROGRAMS = 8
_PROGRAMS: OrderedDict[str, "_Program"] = OrderedDict()
_TWINS: OrderedDict[tuple[str, int], "Twin | None"] = OrderedDict()  # (member architecture, padded width)
_DEVICE_DATA: OrderedDict[Any, tuple[Any, tuple]] = OrderedDict()  # id(part) or (id, chunks)
UNROLLED_RNG = True  # threefry lowered unrolled on CPU while our programs compile (see _unrolled_threefry)
PAIRED_THREEFRY = True  # each threefry hash yields two random words, not one (see _paired_threefry)
HASHED_DROPOUT = True  # dropout masks from a short integer hash, not threefry (training/hashed_dropout.py)
FREEZE_STOPPED = False  # a stopped member's values kept as they were by a select in the program (_member_train)


@dataclass
class Member:
    """One model to train: a built Keras model compiled with its optimizer, its shuffle seed, its callbacks."""

    model: Any
    seed: int
    callbacks: list = field(default_factory=list)
    width: int = 0  # the model's embedding width, when it trains inside a wider twin (see `Twin`)


@dataclass
class Twin:
    """The members' architecture built at a wider embedding width (`recsearch.training.widths`): the program is
    traced from it, and each member's values are placed in it and sliced back after training."""

    model: Any
    width: int


@dataclass
class MemberFit:
    """What training produced for one member: epoch logs, best epoch (1-based), valid_/test_ metrics."""

    history: dict[str, list[float]]
    best_epoch: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Schedule:
    """The training loop's settings, shared by every member of a pack."""

    batch_size: int
    epochs: int
    patience: int
    metric: str  # rmse | mae: monitored as val_<metric>
    mode: str  # min | max (from task.direction)
    low: float = -math.inf  # predictions clipped to [low, high] for the metrics
    high: float = math.inf
    verbose: int = 0


class _TracedRate:
    """A hyperparameter known to be non-zero whose value is traced (one per member): Dropout's rate, or the
    optimizer's momentum or weight decay. Keras tests it as a Python number (`rate > 0`, `momentum != 0`) and
    computes with it (`1 - rate`, `ops.cast(momentum, ...)`)."""

    def __init__(self, value: Any):
        self.value = value

    def __jax_array__(self) -> Any:
        return self.value

    def __gt__(self, other: Any) -> bool:
        return True

    def __eq__(self, other: Any) -> bool:
        return False

    __hash__ = object.__hash__

    def __rsub__(self, other: Any) -> Any:
        return other - self.value


def _knob_slots(model: Any) -> list[tuple[Any, str]]:
    """(object, attribute) of every per-member hyperparameter: dropout rates and L2 factors, in layer order."""
    import keras

    slots, seen = [], set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Dropout) and float(layer.rate) > 0:
            slots.append((layer, "rate"))
        for attr in ("kernel_regularizer", "bias_regularizer", "embeddings_regularizer", "activity_regularizer"):
            reg = getattr(layer, attr, None)
            if isinstance(reg, keras.regularizers.L2) and id(reg) not in seen:
                seen.add(id(reg))
                slots.append((reg, "l2"))
    return slots


def _optimizer_slots(optimizer: Any) -> list[tuple[Any, str]]:
    """(optimizer, attribute) of its per-member hyperparameters besides the learning rate (an optimizer
    variable already): momentum when non-zero (SGD, RMSprop), weight decay when set (AdamW). Whether they
    are zero or unset stays in the architecture key, since it decides the optimizer's slots and steps."""
    import keras

    slots = []
    if isinstance(optimizer, (keras.optimizers.SGD, keras.optimizers.RMSprop)) and optimizer.momentum != 0:
        slots.append((optimizer, "momentum"))
    if getattr(optimizer, "weight_decay", None) is not None:
        slots.append((optimizer, "weight_decay"))
    return slots


OPTIMIZER_KNOBS = ("momentum", "weight_decay")  # values per member (`_optimizer_slots`), not in the program key


def knob_values(model: Any) -> list[float]:
    """The member's own values of its hyperparameter slots: its layers' (`_knob_slots`), then its optimizer's
    (`_optimizer_slots`)."""
    slots = _knob_slots(model) + _optimizer_slots(model.optimizer)
    return [float(getattr(obj, attr)) for obj, attr in slots]


@contextmanager
def _knobs_set(slots: list[tuple[Any, str]], values: Any, *, traced: bool = True) -> Iterator[None]:
    """Temporarily put traced values into the template's dropout rates and L2 factors, or into the program's
    optimizer's momentum and weight decay (`traced=False`: plain values, as they are)."""
    saved = [getattr(obj, attr) for obj, attr in slots]
    try:
        for k, (obj, attr) in enumerate(slots):
            setattr(obj, attr, _TracedRate(values[k]) if traced and attr != "l2" else values[k])
        yield
    finally:
        for (obj, attr), value in zip(slots, saved):
            setattr(obj, attr, value)


KNOB_PLACEHOLDER = -1.0  # what a per-member value reads as in the architecture key (no real rate or factor)


def _config_without_knobs(model: Any) -> Any:
    """`model.get_config()` with every per-member value (`_knob_slots`: dropout rates above zero, L2 factors)
    read as KNOB_PLACEHOLDER: trials that differ only in these share a key, while a value compiled into the
    program (a zero rate, which is no slot; another layer's rate; an L1 factor) stays in it."""
    slots = _knob_slots(model)
    with _knobs_set(slots, [KNOB_PLACEHOLDER] * len(slots), traced=False):
        return model.get_config()


def _strip(config: Any, names: dict[str, str]) -> Any:
    """A config without the values members may differ in and that are not knobs (seeds, initialisers), layer
    names replaced by their position (auto-generated names count up from build to build)."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if key == "seed" or key.endswith("_initializer"):
                continue
            out[key] = _strip(value, names)
        return out
    if isinstance(config, (list, tuple)):
        return [_strip(v, names) for v in config]
    return names.get(config, config) if isinstance(config, str) else config


def architecture_key(model: Any, schedule: Schedule) -> str:
    """What a compiled program depends on: layers and weight shapes, optimizer kind, batch, clipping, and the
    loop's switches (how random bits are drawn, FREEZE_STOPPED)."""
    optimizer = model.optimizer
    opt_config = {k: (v if k not in OPTIMIZER_KNOBS else (v is not None and v != 0))
                  for k, v in optimizer.get_config().items() if k not in ("learning_rate", "name")}
    layers = list(model._flatten_layers(include_self=True, recursive=True))
    names = {layer.name: f"layer{k}" for k, layer in enumerate(layers)}
    key = {
        "model": _strip(_config_without_knobs(model), names),
        "weights": [[(tuple(v.shape), str(v.dtype), bool(v.trainable)) for v in layer.weights] for layer in layers],
        "optimizer": [type(optimizer).__name__, opt_config],
        "batch": schedule.batch_size, "clip": [schedule.low, schedule.high],
        # switches traced into the program (JAX caches traces)
        "switches": [UNROLLED_RNG, PAIRED_THREEFRY, HASHED_DROPOUT, FREEZE_STOPPED],
    }
    return json.dumps(key, sort_keys=True, default=str)


def program_for(model: Any, schedule: Schedule) -> "_Program":
    """The cached compiled program of `model`'s architecture, created from `model` on first use."""
    key = architecture_key(model, schedule)
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    program = _Program(model, schedule)
    _PROGRAMS[key] = program
    if len(_PROGRAMS) > MAX_PROGRAMS:
        import jax

        while len(_PROGRAMS) > MAX_PROGRAMS:
            _PROGRAMS.popitem(last=False)
        jax.clear_caches()  # JAX's trace caches hold the dropped templates; kept programs are compiled already
    return program


def twin_for(model: Any, schedule: Schedule, width: int, build: Callable[[], "Twin | None"]) -> "Twin | None":
    """The twin of `model`'s architecture at embedding `width`, from `build` on first use and kept like the
    programs: a trial of a shape seen before skips building and compiling a second Keras model (the twin's
    values are never used, only its shapes: each member's values are placed in the program's state)."""
    key = (architecture_key(model, schedule), width)
    if key not in _TWINS:
        _TWINS[key] = build()
    _TWINS.move_to_end(key)
    while len(_TWINS) > MAX_PROGRAMS:
        _TWINS.popitem(last=False)
    return _TWINS[key]


def clear_programs() -> None:
    """Drop every cached program, twin and device copy of the data (frees their memory)."""
    _PROGRAMS.clear()
    _TWINS.clear()
    _DEVICE_DATA.clear()


def _on_device(part: Any) -> tuple:
    """(users, items, ratings) of a split part as device arrays, placed once per process."""
    import jax.numpy as jnp

    key = id(part)
    if key in _DEVICE_DATA and _DEVICE_DATA[key][0] is part:
        return _DEVICE_DATA[key][1]
    arrays = (jnp.asarray(part.users, jnp.int32), jnp.asarray(part.items, jnp.int32),
              jnp.asarray(part.ratings, jnp.float32))
    _DEVICE_DATA[key] = (part, arrays)
    while len(_DEVICE_DATA) > 6:
        _DEVICE_DATA.popitem(last=False)
    return arrays


def _chunk_count(part: Any) -> int:
    """Whole EVAL_CHUNKs needed to hold `part`."""
    return -(-len(part) // EVAL_CHUNK)


def _eval_chunks(part: Any, chunks: int) -> tuple:
    """(users, items, ratings, weights) of a part padded with zero-weight rows to `chunks` EVAL_CHUNKs, shaped
    (chunks, EVAL_CHUNK): validation and test padded to the same count share one compiled program."""
    import jax.numpy as jnp

    key = (id(part), chunks)
    if key in _DEVICE_DATA and _DEVICE_DATA[key][0] is part:
        return _DEVICE_DATA[key][1]
    n = len(part)
    pad = chunks * EVAL_CHUNK - n

    def padded(a: np.ndarray, dtype: Any) -> Any:
        return jnp.asarray(np.concatenate([np.asarray(a, dtype), np.zeros(pad, dtype)]).reshape(chunks, EVAL_CHUNK))

    arrays = (padded(part.users, np.int32), padded(part.items, np.int32), padded(part.ratings, np.float32),
              padded(np.ones(n, np.float32), np.float32))
    _DEVICE_DATA[key] = (part, arrays)
    return arrays


class _Program:
    """The jitted, member-vmapped train epoch + evaluation of one architecture (traced from a template model)."""

    def __init__(self, template: Any, schedule: Schedule):
        import jax

        self.model, self.schedule = template, schedule
        self.slots = _knob_slots(template)
        self.optimizer = type(template.optimizer).from_config(template.optimizer.get_config())
        self.opt_slots = _optimizer_slots(self.optimizer)
        self.layout = _FlatLayout(template.trainable_variables, self.optimizer)
        self.slots_of = _build_optimizer(self.optimizer, self.layout.optimizer_variables(template.trainable_variables))
        self.lr_index = [k for k, v in enumerate(self.optimizer.variables) if v is self.optimizer._learning_rate]
        self.step_index = [k for k, v in enumerate(self.optimizer.variables) if v is self.optimizer.iterations]
        self.opt_init = [np.asarray(v.value) for v in self.optimizer.variables]
        self.epoch_fn = jax.jit(jax.vmap(self._member_epoch, in_axes=(0, 0, 0, None, 0, None)))
        # order: (steps, batch) rows shared by every member, or (members, steps, batch) one per member
        self.epoch_shared_fn = jax.jit(jax.vmap(self._member_epoch_ordered, in_axes=(0, 0, None, None, 0, None, None)))
        self.epoch_own_fn = jax.jit(jax.vmap(self._member_epoch_ordered, in_axes=(0, 0, 0, None, 0, None, None)))
        self.compiled: dict[tuple, Any] = {}

    def _loss(self, tv: list, ntv: list, knobs: Any, users: Any, items: Any, ratings: Any, weights: Any) -> tuple:
        import jax.numpy as jnp

        with _knobs_set(self.slots, knobs):
            pred, ntv, losses = self.model.stateless_call(tv, ntv, {"user": users, "item": items}, training=True,
                                                          return_losses=True)
        pred = jnp.reshape(pred, (-1,)).astype(jnp.float32)
        loss = jnp.sum(weights * jnp.square(pred - ratings)) / jnp.maximum(jnp.sum(weights), 1.0)
        for extra in losses:
            loss = loss + extra
        return loss, (ntv, pred)

    def _member_epoch(self, state: tuple, knobs: Any, key: Any, epoch: Any, active: Any, data: tuple) -> tuple:
        """One member's epoch with the shuffle drawn in the program (the earlier loop, kept as the baseline of
        `benchmarks/epoch.py --loop`): the batches of a permutation padded with index n, then `_member_train`."""
        import jax
        import jax.numpy as jnp

        n, batch = data[0].shape[0], self.schedule.batch_size
        steps = max(1, -(-n // batch))
        perm = jax.random.permutation(jax.random.fold_in(key, epoch), n)
        idx = jnp.concatenate([perm, jnp.full(steps * batch - n, n, perm.dtype)]).reshape(steps, batch)
        return self._member_train(state, knobs, idx, active, data)

    def _member_epoch_ordered(self, state: tuple, knobs: Any, idx: Any, train: Any, active: Any, data: tuple,
                              chunks: tuple) -> tuple:
        """One member's epoch over the batches `idx` when `train` (else its state as given), then the
        evaluation sums of the resulting weights over the padded `chunks` (see `_member_eval`).

        One program trains and evaluates: a new shape compiles once, and the test split is scored with the
        best weights by the same program with `train` false."""
        import jax
        import jax.numpy as jnp

        state, stats = jax.lax.cond(train, lambda s: self._member_train(s, knobs, idx, active, data),
                                    lambda s: (s, jnp.zeros(3, jnp.float32)), state)

        def chunk_sums(total: Any, chunk: tuple) -> tuple:
            return total + self._member_eval(state[0], state[1], chunk), None

        sums, _ = jax.lax.scan(chunk_sums, jnp.zeros(3, jnp.float32), chunks)
        return state, stats, sums

    def _member_train(self, state: tuple, knobs: Any, idx: Any, active: Any, data: tuple) -> tuple:
        """One member's epoch: a scan over the batches of row indices `idx` (steps, batch), padded with index n
        (weight 0). Returns the state and the epoch's mean loss, mse, mae.

        A member that is not `active` (stopped) trains on in its lane of a pack: vmapped, its lane is computed
        either way, and `fit_members` never reads it again (its best values are on the host; the test split
        is scored from those). Keeping its old values (FREEZE_STOPPED) costs a select per state array, about
        a tenth of an `mlp` program's kernels and ~8% of its compile time (0.92x over 6 shapes,
        benchmarks/compile_options.py --switch FREEZE_STOPPED)."""
        import jax
        import jax.numpy as jnp

        users, items, ratings = data
        n = users.shape[0]
        wts = (idx < n).astype(jnp.float32)
        idx = jnp.minimum(idx, n - 1)
        low, high = self.schedule.low, self.schedule.high

        def step(carry: tuple, xs: tuple) -> tuple:
            tv, ntv, ov = carry
            rows, w = xs
            y = ratings[rows]
            (loss, (ntv, pred)), grads = jax.value_and_grad(self._loss, has_aux=True)(
                tv, ntv, knobs, users[rows], items[rows], y, w)
            with _knobs_set(self.opt_slots, knobs[len(self.slots):]):
                flat_tv, ov = self.optimizer.stateless_apply(ov, self.layout.join(grads), self.layout.join(tv))
            tv = self.layout.split(flat_tv)
            err = y - jnp.clip(pred, low, high)
            real = jnp.sum(w)
            return (tv, ntv, ov), jnp.stack([loss * real, jnp.sum(w * err * err), jnp.sum(w * jnp.abs(err))])

        final, stats = jax.lax.scan(step, state, (idx, wts))
        if FREEZE_STOPPED:
            final = jax.tree_util.tree_map(lambda new, old: jnp.where(active, new, old), final, state)
        return final, jnp.sum(stats, axis=0) / n

    def _member_eval(self, tv: list, ntv: list, chunk: tuple) -> Any:
        """Sums of squared error, clipped squared error and clipped absolute error over one padded chunk."""
        import jax.numpy as jnp

        users, items, ratings, w = chunk
        pred, _ = self.model.stateless_call(tv, ntv, {"user": users, "item": items}, training=False)
        pred = jnp.reshape(pred, (-1,)).astype(jnp.float32)
        clipped = ratings - jnp.clip(pred, self.schedule.low, self.schedule.high)
        return jnp.stack([jnp.sum(w * jnp.square(ratings - pred)), jnp.sum(w * jnp.square(clipped)),
                          jnp.sum(w * jnp.abs(clipped))])

    def initial_state(self, members: Sequence[Member],
                      maps: Sequence[tuple[WidthMap, WidthMap] | None] | None = None) -> tuple:
        """Stacked (trainable, non-trainable, optimizer) values of the members (widened into the program's
        twin where `maps` says so), and their knob values.

        Stacked on the host: an eager `jnp.stack` compiles a program per variable shape."""
        import jax
        import jax.numpy as jnp

        def stack(lists: list[list]) -> list:
            return [jax.device_put(np.stack([np.asarray(v) for v in vals])) for vals in zip(*lists)]

        def host_values(variables: Sequence[Any], wmap: WidthMap | None) -> list:
            host = [np.asarray(v.value) for v in variables]
            return wmap.widen(host) if wmap is not None else host

        maps = maps or [None] * len(members)
        tv = stack([host_values(m.model.trainable_variables, wm[0] if wm else None) for m, wm in zip(members, maps)])
        ntv = stack([host_values(m.model.non_trainable_variables, wm[1] if wm else None)
                     for m, wm in zip(members, maps)])
        opt = []
        for m in members:
            values = list(self.opt_init)
            for k in self.lr_index:
                values[k] = np.asarray(float(m.model.optimizer.learning_rate), values[k].dtype)
            opt.append(values)
        knobs = jnp.asarray(np.array([knob_values(m.model) for m in members], np.float32).reshape(len(members), -1))
        return (tv, ntv, stack(opt)), knobs

    def compile(self, kind: str, *args: Any) -> tuple[Any, float]:
        """The AOT-compiled `kind` function for these argument shapes, and the seconds compiling took now."""
        import jax

        shapes = (kind, tuple(str(getattr(a, "shape", a)) for a in jax.tree_util.tree_leaves(args)))
        if shapes in self.compiled:
            return self.compiled[shapes], 0.0
        start = time.perf_counter()
        fn = {"epoch": self.epoch_fn, "epoch_shared": self.epoch_shared_fn, "epoch_own": self.epoch_own_fn}[kind]
        members, rows = int(args[1].shape[0]), int(args[5][0].shape[0])  # knobs (members, k); data (users, ...)
        options = compiler_options(self.model, self.optimizer, members, steps=-(-rows // self.schedule.batch_size))
        with _unrolled_threefry(UNROLLED_RNG), _paired_threefry(PAIRED_THREEFRY), \
                hashed_dropout_while_tracing(HASHED_DROPOUT):  # tracing and lowering: all they change
            lowered = fn.lower(*args)
        self.compiled[shapes] = lowered.compile(options)  # XLA flags: training/backend.py
        return self.compiled[shapes], time.perf_counter() - start


# XLA:CPU's legacy emitters (recsearch's default, backend.CPU_XLA_FLAGS: faster compiles) run an in-place
# update that reads the variable and takes a square root or divides as a scalar loop: about 1.6 ns per
# element and step more than the default emitters here (Adam on `mf`'s 0.67 M embedding values: 0.147 s an
# epoch against 0.061 s), which also compile about 0.06 s more per trainable variable. A shape whose loss
# over a sweep trial's epochs (with pruning, about 5) exceeds that is compiled with the default emitters.
LEGACY_UPDATE_S = 1.6e-9  # seconds per element and step
FUSION_EMITTERS_COMPILE_S = 0.06  # seconds per trainable variable
TRIAL_EPOCHS = 5
SQRT_DIV_OPTIMIZERS = frozenset({"Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl"})


def compiler_options(model: Any, optimizer: Any, members: int, steps: int) -> dict[str, Any] | None:
    """XLA options for compiling `model`'s program: the default fusion emitters where the legacy ones (chosen
    by recsearch for the process, never over the user's flags) would cost more in epochs than they save in
    compiling; None (the process's flags) otherwise. It depends on the shape, the pack size and the training
    rows only, so a trial and its reproduction compile alike."""
    import jax

    from recsearch.training.backend import legacy_emitters_chosen_here

    if (not legacy_emitters_chosen_here() or jax.default_backend() != "cpu"
            or type(optimizer).__name__ not in SQRT_DIV_OPTIMIZERS):
        return None
    variables = model.trainable_variables
    elements = sum(int(np.prod(v.shape)) for v in variables)
    epoch_loss = LEGACY_UPDATE_S * elements * members * steps
    return ({"xla_cpu_use_fusion_emitters": True}
            if epoch_loss * TRIAL_EPOCHS > FUSION_EMITTERS_COMPILE_S * len(variables) else None)


FLAT_MAX = 1 << 17  # variables up to this size share one optimizer update (see _FlatLayout)
# Keras optimizers whose update treats every element alike (not Adafactor, Lamb, Muon: per-variable shapes/norms)
ELEMENTWISE_OPTIMIZERS = frozenset({"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam",
                                    "Ftrl", "Lion"})


class _FlatLayout:
    """Which trainable variables the optimizer updates as one flat vector, and how to join and split them.

    Keras updates each variable with its own few fused kernels; XLA:CPU spends most of a shape's compile
    time generating kernels, so the many small variables (Dense kernels and biases) are concatenated and
    updated as one. Exact: the optimizers' updates are elementwise (no per-variable clipping or exclusion,
    checked here), so every element gets the same arithmetic. Large variables (embedding tables) stay
    apart, since concatenating them would copy them every step; so do any not in float32.
    """

    def __init__(self, variables: Sequence[Any], optimizer: Any):
        import keras

        sizes = [int(np.prod(v.shape)) for v in variables]
        elementwise = (type(optimizer).__name__ in ELEMENTWISE_OPTIMIZERS
                       and type(optimizer) is getattr(keras.optimizers, type(optimizer).__name__, None)
                       and not optimizer.get_config().get("clipnorm")
                       and not getattr(optimizer, "_exclude_from_weight_decay", None)
                       and getattr(optimizer, "_exclude_from_weight_decay_pattern", None) is None)
        small = [k for k, (v, size) in enumerate(zip(variables, sizes))
                 if size <= FLAT_MAX and str(v.dtype) == "float32"] if elementwise else []
        self.flat = small if len(small) > 1 else []
        self.alone = [k for k in range(len(sizes)) if k not in self.flat]
        self.shapes = [tuple(v.shape) for v in variables]
        self.sizes = sizes
        self.count = len(self.alone) + (1 if self.flat else 0)  # variables in the optimizer's order

    def optimizer_variables(self, variables: Sequence[Any]) -> list:
        """The variables to build the optimizer on: the flat vector (when any), then the others."""
        import keras

        if not self.flat:
            return list(variables)
        total = sum(self.sizes[k] for k in self.flat)
        flat = keras.Variable(np.zeros(total, np.float32), dtype="float32", trainable=True, name="flat")
        return [flat] + [variables[k] for k in self.alone]

    def join(self, values: Sequence[Any]) -> list:
        """Per-variable values (model order) -> the optimizer's order, the small ones concatenated."""
        import jax.numpy as jnp

        if not self.flat:
            return list(values)
        return [jnp.concatenate([jnp.reshape(values[k], (-1,)) for k in self.flat])] + [values[k] for k in self.alone]

    def split(self, values: Sequence[Any], xp: Any = None) -> list:
        """The inverse of `join` (traced, or host arrays with `xp=np`)."""
        if xp is None:
            import jax.numpy as xp

        if not self.flat:
            return list(values)
        out: list = [None] * len(self.shapes)
        offset = 0
        for k in self.flat:
            out[k] = xp.reshape(values[0][offset:offset + self.sizes[k]], self.shapes[k])
            offset += self.sizes[k]
        for k, value in zip(self.alone, values[1:]):
            out[k] = value
        return out


_UNROLLING = threading.local()  # .depth > 0 while this thread lowers one of the loop's programs


def _install_threefry_dispatch() -> bool:
    """Replace JAX's CPU lowering rule of threefry, once, by one that lowers it unrolled in a thread inside
    `_unrolled_threefry` and as JAX does everywhere else. False when JAX's internals differ from what this
    expects (then JAX's rule stays)."""
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as tf

        table = mlir._platform_specific_lowerings["cpu"]
        saved = table.get(tf.threefry2x32_p)
        if saved is None or not hasattr(saved, "inline") or not hasattr(saved, "rule"):
            return False
        if getattr(saved.rule, "_recsearch_dispatch", False):
            return True
        jax_rule, unrolled = saved.rule, tf._threefry2x32_lowering_rule

        def dispatch(ctx: Any, *args: Any, **params: Any) -> Any:
            rule = unrolled if getattr(_UNROLLING, "depth", 0) > 0 else jax_rule
            return rule(ctx, *args, **params)

        dispatch._recsearch_dispatch = True  # type: ignore[attr-defined]
        table[tf.threefry2x32_p] = mlir.LoweringRuleEntry(dispatch, saved.inline)
        return True
    except (ImportError, AttributeError, KeyError, TypeError):
        return False


@contextmanager
def _unrolled_threefry(enabled: bool = True) -> Iterator[None]:
    """Lower JAX's threefry hash unrolled on CPU while this thread lowers one of our programs.

    JAX lowers threefry on CPU as a 5-iteration loop (short compiles), so every random draw (dropout's
    masks before `hashed_dropout`; now a user layer's noise) costs five passes over memory plus loop
    overhead per step; unrolled, XLA fuses the hash into one pass. The bits are the same (same algorithm),
    only the lowering differs. JAX's rule is replaced once by one that decides per thread
    (`_install_threefry_dispatch`), so another thread lowering at the same time keeps JAX's lowering.
    """
    if not enabled or not _install_threefry_dispatch():
        yield
        return
    _UNROLLING.depth = getattr(_UNROLLING, "depth", 0) + 1
    try:
        yield
    finally:
        _UNROLLING.depth -= 1


@contextmanager
def _paired_threefry(enabled: bool = True) -> Iterator[None]:
    """Trace our programs with `jax_threefry_partitionable` off: random bits use both 32-bit words of each
    threefry hash, so a random draw costs half the hashes (the partitionable default hashes once per word,
    which only matters for sharded arrays). Draws stay independent and from the member's seed, but a
    different stream than JAX's default, so they differ from Keras `fit`'s."""
    import jax

    manager = getattr(jax, "threefry_partitionable", None)
    if not enabled or manager is None:
        yield
        return
    with manager(False):
        yield


def _orders(seeds: Sequence[int], epoch: int, n: int, batch: int) -> Any:
    """Row order of an epoch as (steps, batch) indices, padded with n: one shared order when every member
    has the same seed (indices stay unbatched under vmap), else (members, steps, batch)."""
    steps = max(1, -(-n // batch))

    def order(seed: int) -> np.ndarray:
        perm = np.random.default_rng([int(seed) & 0xFFFFFFFF, epoch]).permutation(n).astype(np.int32)
        return np.concatenate([perm, np.full(steps * batch - n, n, np.int32)]).reshape(steps, batch)

    unique = sorted(set(int(s) for s in seeds))
    if len(unique) == 1:
        return order(unique[0])
    cache = {s: order(s) for s in unique}
    return np.stack([cache[int(s)] for s in seeds])


def _select(improved: np.ndarray, current: Any, best: Any) -> Any:
    """Per member, `current` where improved else `best` (host arrays, member axis first).

    On the host: a jitted select compiled a program per architecture (0.15 s a trial here)."""
    import jax

    return jax.tree_util.tree_map(
        lambda c, b: np.where(improved.reshape((-1,) + (1,) * (c.ndim - 1)), c, b), current, best)


class _Stopper:
    """EarlyStopping(restore_best_weights=True, min_delta=0) and TerminateOnNaN bookkeeping for one member."""

    def __init__(self, patience: int, mode: str):
        self.patience, self.sign = patience, (1.0 if mode == "min" else -1.0)
        self.best, self.best_epoch, self.wait = math.inf, 0, 0

    def update(self, epoch: int, value: float) -> tuple[bool, bool]:
        """(improved, stop) after an epoch whose monitored value is `value`."""
        self.wait += 1
        if epoch == 0:
            self.best_epoch = 0
        if self.sign * value < self.best:
            self.best, self.best_epoch, self.wait = self.sign * value, epoch, 0
            return True, False
        return epoch == 0, self.wait >= self.patience and epoch > 0


def fit_members(members: Sequence[Member], train: Any, valid: Any, test: Any, schedule: Schedule,
                twin: Twin | None = None) -> tuple[list[MemberFit], dict[str, float]]:
    """Train every member on `train` (packed: same architecture), early-stop each on `valid`, evaluate test.

    With `twin`, the members train inside it (each at its own `width`). Returns each member's fit and the
    pack's timings (compile_s, fit_s, eval_s). Each Keras model ends holding its best weights (or its last,
    when no epoch had a finite monitored value); its optimizer's state is written by `with_optimizer_state`.
    """
    import jax
    import jax.numpy as jnp
    import keras

    program = program_for(twin.model if twin is not None else members[0].model, schedule)
    maps = [width_map(m.model, twin.model, m.width, twin.width) if twin is not None else None for m in members]
    state, knobs = program.initial_state(members, maps)
    n = len(members)
    data = _on_device(train)
    count = max(_chunk_count(valid), _chunk_count(test), 1)
    valid_chunks = _eval_chunks(valid, count)
    active = np.ones(n, bool)
    seeds = [int(m.seed) for m in members]
    order0 = jnp.asarray(_orders(seeds, 0, len(train), schedule.batch_size))
    kind = "epoch_shared" if order0.ndim == 2 else "epoch_own"
    training, scoring = np.asarray(True), np.asarray(False)  # arrays: one compiled program serves both
    epoch_fn, compile_s = program.compile(kind, state, knobs, order0, training, jnp.asarray(active), data, valid_chunks)
    lists = [keras.callbacks.CallbackList(m.callbacks, model=m.model, epochs=schedule.epochs, verbose=0)
             for m in members]
    stoppers = [_Stopper(schedule.patience, schedule.mode) for _ in members]
    history: list[dict[str, list[float]]] = [{} for _ in members]
    for m, cbs in zip(members, lists):
        m.model.stop_training = False
        cbs.on_train_begin()
    best = None  # host copies of each member's best (trainable, non-trainable) values; every member improves at epoch 1
    last_opt: list = [None] * n  # host copies of a member's optimizer values when it stopped while others went on
    start = time.perf_counter()
    for epoch in range(schedule.epochs):
        if not active.any():
            break
        for k in np.flatnonzero(active):
            lists[k].on_epoch_begin(epoch)
        order = order0 if epoch == 0 else jnp.asarray(_orders(seeds, epoch, len(train), schedule.batch_size))
        state, train_stats, val = epoch_fn(state, knobs, order, training, jnp.asarray(active), data, valid_chunks)
        val = _means(val, len(valid))
        train_stats = np.asarray(train_stats, np.float64)
        improved = np.zeros(n, bool)
        for k in np.flatnonzero(active):
            logs = {"loss": train_stats[k, 0], "rmse": math.sqrt(train_stats[k, 1]), "mae": train_stats[k, 2],
                    "val_loss": val[k, 0], "val_rmse": math.sqrt(val[k, 1]), "val_mae": val[k, 2]}
            logs = {name: float(v) for name, v in logs.items()}
            improved[k], stop = stoppers[k].update(epoch, logs[f"val_{schedule.metric}"])
            stop = stop or not math.isfinite(logs["loss"])
            lists[k].on_epoch_end(epoch, logs)
            for name, v in logs.items():
                history[k].setdefault(name, []).append(float(v))
            if schedule.verbose:
                print(f"member {k} epoch {epoch + 1}: " + " ".join(f"{a}={b:.4f}" for a, b in logs.items()))
            if stop or members[k].model.stop_training:
                active[k] = False
        if active.any() and any(last_opt[k] is None and not active[k] for k in range(n)):  # stopped while others go on
            host_opt = jax.device_get(state[2])
            for k in range(n):
                if last_opt[k] is None and not active[k]:
                    last_opt[k] = [np.array(v[k]) for v in host_opt]  # copies: the pack's arrays are not kept
        if improved.any():
            current = jax.device_get(state[:2])
            best = current if best is None or improved.all() else _select(improved, current, best)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    if len(test):  # the best weights through the same program, not training: their sums over the test split
        _, _, sums = epoch_fn((*best, state[2]), knobs, order0, scoring, jnp.zeros(n, bool), data,
                              _eval_chunks(test, count))
        test_sums = _means(sums, len(test))
    else:
        test_sums = np.full((n, 3), np.nan)
    fits = []
    for k, m in enumerate(members):
        _assign(m.model, best, k, maps[k])
        own = last_opt[k] is not None  # stopped while others went on: its host copy, else its row of the pack's
        _defer_optimizer_state(m.model, _PendingOptimizer(program, last_opt[k] if own else state[2],
                                                          None if own else k, maps[k][0] if maps[k] else None))
        lists[k].on_train_end()
        be = stoppers[k].best_epoch
        metrics = {"valid_rmse": history[k]["val_rmse"][be], "valid_mae": history[k]["val_mae"][be],
                   "test_rmse": float(math.sqrt(test_sums[k, 1])), "test_mae": float(test_sums[k, 2])}
        fits.append(MemberFit(history=history[k], best_epoch=be + 1, metrics=metrics))
    return fits, {"compile_s": compile_s, "fit_s": fit_s, "eval_s": time.perf_counter() - start}


def _build_optimizer(optimizer: Any, variables: Sequence[Any]) -> dict[tuple[int, str], int]:
    """Build `optimizer` on `variables` (initial values made on the host) and say where its slots are:
    (index of the variable in `variables`, slot name) -> index in `optimizer.variables`, for every slot
    Keras makes from a variable (Adam's momentum and velocity, SGD's momentum, ...)."""
    index = {id(v): k for k, v in enumerate(variables)}
    made: dict[int, tuple[int, str]] = {}
    make = optimizer.add_variable_from_reference

    def recorded(reference_variable: Any, name: str | None = None, initializer: Any = "zeros") -> Any:
        variable = make(reference_variable, name=name, initializer=initializer)
        if id(reference_variable) in index:
            made[id(variable)] = (index[id(reference_variable)], name or "var")
        return variable

    optimizer.add_variable_from_reference = recorded
    try:
        with host_initial_values():
            optimizer.build(list(variables))
    finally:
        del optimizer.add_variable_from_reference
    return {made[id(v)]: k for k, v in enumerate(optimizer.variables) if id(v) in made}


@dataclass
class _PendingOptimizer:
    """A member's optimizer state after its last epoch, not yet in its Keras model's optimizer: the pack's
    stacked device arrays and the member's row (`member`), or the member's own host arrays (member None)."""

    program: "_Program"
    values: Sequence[Any]
    member: int | None
    wmap: WidthMap | None
    optimizer: Any = None  # the model's optimizer it is for (a model compiled again has another)


def _defer_optimizer_state(model: Any, pending: _PendingOptimizer) -> None:
    """Keep `pending` with `model`, to be written into its optimizer when the model is saved (Keras asks the
    optimizer for its variables then, whoever saves it) or handed out (`with_optimizer_state`): the copy, twice
    the model's size with Adam, is made for the models that are kept, not for every trial."""
    pending.optimizer = optimizer = model.optimizer
    model._recsearch_optimizer_state = pending
    if optimizer is None:
        return

    def save_own_variables(store: Any) -> None:
        with_optimizer_state(model)
        type(optimizer).save_own_variables(optimizer, store)

    optimizer.save_own_variables = save_own_variables


def with_optimizer_state(model: Any) -> Any:
    """`model`, its optimizer holding the state the JAX loop left it (steps taken, Adam's moments, ...), when the
    loop trained it and that state is not written yet; as `fit` leaves a model, so it trains on, and a saved
    model loads compiled and trains on. Saving a model calls it (`_defer_optimizer_state`); `train` calls it
    for the model it hands out."""
    pending = getattr(model, "_recsearch_optimizer_state", None)
    if pending is not None and pending.optimizer is model.optimizer:
        model._recsearch_optimizer_state = None
        values = pending.values
        if pending.member is not None:
            import jax

            values = [np.asarray(v)[pending.member] for v in jax.device_get(list(values))]
        _set_optimizer(model, pending.program, values, pending.wmap)
    return model


def _set_optimizer(model: Any, program: "_Program", values: Sequence[np.ndarray], wmap: WidthMap | None) -> None:
    """A member's optimizer state after its last epoch (host arrays in the program's optimizer order) into
    its Keras model's optimizer, built here on the model's variables and sliced back to its width (the last
    epoch's, not the best one's, as `fit` with best weights restored). Not when the optimizer was built
    before (its slots' origin is unknown here), nor for an optimizer with variables besides its step, learning
    rate and per-variable slots (their layout is its own): it stays unbuilt, as fresh."""
    optimizer = model.optimizer
    theirs = program.slots_of
    if optimizer is None or optimizer.built or \
            len(program.optimizer.variables) != len(theirs) + len(program.lr_index) + len(program.step_index):
        return
    variables = model.trainable_variables
    mine = _build_optimizer(optimizer, variables)
    for name in sorted({slot for _, slot in mine}):
        if any((k, name) not in theirs for k in range(program.layout.count)):
            continue
        per_variable = program.layout.split([values[theirs[(k, name)]] for k in range(program.layout.count)], xp=np)
        for k in range(len(variables)):
            if (k, name) in mine:
                value = np.asarray(per_variable[k])
                optimizer.variables[mine[(k, name)]].assign(wmap.narrow(k, value) if wmap is not None else value)
    for k in program.step_index:
        optimizer.iterations.assign(values[k])


def _means(sums: Any, rows: int) -> np.ndarray:
    """(N, 3) evaluation sums (mse, clipped mse, clipped mae) per member divided by the part's rows."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(sums, np.float64) / rows


def _assign(model: Any, params: tuple, k: int, maps: tuple[WidthMap, WidthMap] | None) -> None:
    """Write member k's (trainable, non-trainable) values, host arrays, into its Keras model, sliced back to
    its width when it trained in a twin (on the host: an eager slice of a device array compiles a program
    per shape)."""
    for part, (variables, values) in enumerate(zip((model.trainable_variables, model.non_trainable_variables),
                                                   params)):
        for j, (var, value) in enumerate(zip(variables, values)):
            value = np.asarray(value[k])
            var.assign(maps[part].narrow(j, value) if maps is not None else value)
