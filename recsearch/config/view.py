"""The config as a user reads it: only the keys that matter for its task, storage passwords masked."""

from __future__ import annotations

from typing import Any

# task keys read only by one task (recsearch/config/schema.py TaskConfig); the other task ignores them
TASK_ONLY_KEYS: dict[str, tuple[str, ...]] = {
    "rating": ("clip_predictions",),
    "ranking": ("loss", "negatives", "num_negatives", "implicit_threshold", "protocol", "num_candidates", "ks",
                "eval_seed"),
}


def relevant_view(cfg: Any) -> dict[str, Any]:
    """`cfg` as a plain dict without the task keys the chosen task ignores."""
    from omegaconf import OmegaConf

    out = OmegaConf.to_container(cfg, resolve=True)
    task = out.get("task") or {}
    for other, keys in TASK_ONLY_KEYS.items():
        if other != task.get("name"):
            for key in keys:
                task.pop(key, None)
    return out


def config_yaml(cfg: Any) -> str:
    """The YAML that `config show` and `train --cfg job` print: the relevant keys, passwords masked."""
    from omegaconf import OmegaConf

    from recsearch.redact import redact

    return redact(OmegaConf.to_yaml(OmegaConf.create(relevant_view(cfg))))
