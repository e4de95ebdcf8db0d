"""Shared constants of the KerasTuner tests (a module of its own: `conftest` is ambiguous across test folders)."""

KT_SPACE = ["~search_space", "+search_space={params: {model.depth: 'range(1, 3)', model.width: 'choice(8, 16)', "
            "model.width_schedule: 'choice(constant, halving)', train.learning_rate: 'tag(log, interval(1e-3, 3e-2))'}, "
            "conditions: {model.width_schedule: {model.depth: '>= 2'}}}"]
