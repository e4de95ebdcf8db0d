"""Model families, looked up by name in an explicit registry."""

from recsearch.models.registry import MODELS, ModelSpec, build_model, model_schema, model_spec

__all__ = ["MODELS", "ModelSpec", "build_model", "model_schema", "model_spec"]
