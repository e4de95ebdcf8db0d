"""Recommendations from a trained model, with the user's rating profile and embedding-space explanations."""

from recsearch.recommend.profile import UserProfile, user_profile
from recsearch.recommend.recommender import LoadedModel, load_model_for, recommend_items, similar_past_items

__all__ = ["LoadedModel", "UserProfile", "load_model_for", "recommend_items", "similar_past_items", "user_profile"]
