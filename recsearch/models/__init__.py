"""Model families, looked up by name in an explicit registry. Call `register_layers()` before loading a .keras file."""

from recsearch.models.registry import MODELS, ModelSpec, build_model, model_schema, model_spec, register_layers

__all__ = ["MODELS", "ModelSpec", "build_model", "model_schema", "model_spec", "register_layers"]
