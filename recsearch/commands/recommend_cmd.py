"""`recsearch recommend RUN_OR_STUDY --user ID`: a user's top-N unseen items from a trained model, with their profile."""

from __future__ import annotations

import argparse

HELP = "Recommend a user's top-N unseen items with the model of a run or study folder, next to their rating profile"

EXAMPLES = """examples:
  recsearch recommend results/default/mlp-rating --user 414 -n 10 --min-ratings 10 --explain
  recsearch recommend results/default/mlp-rating --user 1 --trial 3   # another trial's model
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="RUN_OR_STUDY",
                        help="a run folder (results/<exp>/runs/<run>/) or a study folder (its best trial's model, "
                        "or --trial's); a file in one (model.keras, study.journal) stands for its folder, and a "
                        "study's models/trial_<N>.keras for trial N")
    parser.add_argument("--user", required=True, metavar="ID", help="the user's original id (MovieLens userId)")
    parser.add_argument("--trial", type=int, metavar="N",
                        help="a study's completed trial N instead of its best: its kept models/trial_<N>.keras, "
                             "else N retrained from the config it recorded")
    parser.add_argument("-n", type=int, default=10, help="how many items (default 10)")
    parser.add_argument("--min-ratings", type=int, default=0, metavar="K",
                        help="recommend only items with at least K training ratings (default 0: any item); a "
                             "rating model scores a rarely rated item high on little evidence, and --explain "
                             "explains items with 10 or more")
    parser.add_argument("--explain", action="store_true",
                        help="for each item, the 3 past items of the user most similar to it: cosine similarity "
                             "of the model's item vectors (its item_embedding; NeuMF's two item tables; the "
                             "two-tower item tower's output; AutoRec has none) after centring them (minus the "
                             "mean item vector) and normalising them, in [-1, 1], and the past item's rank by "
                             "that similarity among the items with at least 10 training ratings (#1 = the "
                             "closest); items with fewer (embeddings still near their random start) neither "
                             "explain nor are explained")


def run(args: argparse.Namespace) -> int:
    from recsearch.commands.common import console
    from recsearch.recommend.profile import user_profile
    from recsearch.recommend.recommender import (MIN_ITEM_RATINGS, item_embeddings, item_table, recommend_for,
                                                 similar_past_items, well_trained_items)

    found = recommend_for(args.target, args.user, args.n, trial=args.trial, min_ratings=args.min_ratings)
    loaded, data, user_id, mine, recs = found.loaded, found.data, found.user_id, found.rated, found.items
    profile = user_profile(found.raw.ratings, found.raw.items, user_id)
    out = console()
    out.print(f"model: {loaded.source}")
    explained, eligible = None, None
    if args.explain:
        emb = item_embeddings(loaded.model)
        if emb is None:
            out.print("--explain: this model has no item vectors (no item_embedding layer or item tower); "
                      "no explanation available")
        else:
            past = item_table(data).merge(mine[["item_id", "rating"]], on="item_id")
            eligible = well_trained_items(data, MIN_ITEM_RATINGS)
            explained = similar_past_items(emb, recs, past, eligible=eligible)
    from rich.columns import Columns

    ranked_among = int(eligible.sum()) if eligible is not None else 0
    ranking = str(loaded.cfg.task.name) == "ranking"
    parts = [recommendations_table(recs, user_id, explained, ranked_among=ranked_among, implicit=profile.implicit,
                                   score="ranking score" if ranking else "predicted rating"),
             profile_tables(profile)]
    if out.is_terminal:  # side by side where they fit
        out.print(Columns(parts))
    else:  # piped: one after the other, no lines padded to the console's width
        for part in parts:
            out.print(part)
    return 0


def recommendations_table(recs, user_id, explained, *, ranked_among: int = 0,  # noqa: ANN001, ANN201
                          implicit: bool = False, score: str = "score"):
    """Top-N items: rank, id, title, genres, `score` (its header: a rating model's predicted rating, a ranking
    model's unbounded score); with --explain, the closest past items and their rank among the
    `ranked_among` items with enough training ratings (`similar_past_items` ranks within those, not all items),
    and the user's rating of each (not for `implicit` data, where every rating is 1)."""
    from rich.table import Table

    from recsearch.recommend.recommender import MIN_ITEM_RATINGS

    title = f"Top {len(recs)} unseen items for user {user_id}"
    table = Table(title=title, title_justify="left", min_width=len(title))  # a title wider than its columns: unwrapped
    shown = [col for col in ("#", "item", "title", "genres", "score") if col not in _absent(recs)]
    for col in shown:
        table.add_column(score if col == "score" else col, justify="right" if col in ("#", "item", "score") else "left")
    if explained is not None:
        yours = "" if implicit else ", your rating"
        table.add_column(f"similar past items (centred cosine, rank among the {ranked_among:,} items with "
                         f"{MIN_ITEM_RATINGS}+ training ratings{yours})")
    for k, row in recs.iterrows():
        every = {"#": str(k + 1), "item": str(row["item_id"]), "title": str(row["title"]),
                 "genres": "|".join(row["genres"]), "score": f"{row['score']:.3f}"}
        cells = [every[col] for col in shown]
        if explained is not None:
            near = explained[int(row["item_index"])]
            cells.append("; ".join(f"{p['title']} ({p['similarity']:.2f}, #{p['rank']}"
                                   + ("" if implicit else f", {p['rating']:g}") + ")"
                                   for _, p in near.iterrows()) or "(too few ratings to explain)")
        table.add_row(*cells)
    return table


def _absent(items) -> set[str]:  # noqa: ANN001 - pandas imported lazily
    """The columns the data gives nothing for: `title` when every title is the item's id (no items file, see
    `titles_or_ids`), `genres` when no item has one."""
    absent = set()
    if (items["title"].astype(str) == items["item_id"].astype(str)).all():
        absent.add("title")
    if "genres" in items and not any(len(g) for g in items["genres"]):
        absent.add("genres")
    return absent


def profile_tables(profile):  # noqa: ANN001, ANN201
    """The user's profile: counts and mean, per-genre count and mean, top-rated items."""
    from rich.console import Group
    from rich.table import Table

    if profile.implicit:  # every rating is 1: what the user interacted with, latest first
        summary = f"User {profile.user_id}: {profile.n_ratings} interactions (implicit feedback, no ratings)"
        columns, top_title = ("genre", "count"), "Latest items" if profile.dated else "Items"
    else:
        summary = f"User {profile.user_id}: {profile.n_ratings} ratings, mean rating {profile.mean_rating:.2f}"
        columns, top_title = ("genre", "count", "mean"), "Top-rated items"
    genres = Table(title="Ratings per genre" if not profile.implicit else "Interactions per genre",
                   title_justify="left")
    for col in columns:
        genres.add_column(col, justify="left" if col == "genre" else "right")
    for _, g in profile.genres.iterrows():
        genres.add_row(*[str(g["genre"]), str(g["count"]), f"{g['mean']:.2f}"][:len(columns)])
    top = Table(title=top_title, title_justify="left", min_width=len(top_title))
    shown = [col for col in ("item", "title", "rating")[:2 if profile.implicit else 3]
             if col not in _absent(profile.top_items)]
    for col in shown:
        top.add_column(col, justify="left" if col == "title" else "right")
    for _, t in profile.top_items.iterrows():
        every = {"item": str(t["item_id"]), "title": str(t["title"]), "rating": f"{t['rating']:g}"}
        top.add_row(*[every[col] for col in shown])
    return Group(summary, *([genres] if len(profile.genres) else []), top)
