"""Top-K ranking: metrics (pure NumPy), evaluation protocols (candidate sets) and negative sampling."""

from recsearch.ranking.metrics import (coverage_at_k, evaluate_rankings, hit_rate_at_k, map_at_k, mrr, ndcg_at_k,
                                       parse_metric, precision_at_k, recall_at_k)
from recsearch.ranking.protocols import RankingQueries, full_queries, make_queries, sampled_queries

__all__ = ["RankingQueries", "coverage_at_k", "evaluate_rankings", "full_queries", "hit_rate_at_k", "make_queries",
           "map_at_k", "mrr", "ndcg_at_k", "parse_metric", "precision_at_k", "recall_at_k", "sampled_queries"]
