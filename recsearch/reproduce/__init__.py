"""Reproducing a search's results: export the best config, re-run it with fresh seeds, judge the number."""

from recsearch.reproduce.export import ExportResult, export_trial, provenance_of
from recsearch.reproduce.reproduce import (Candidate, ReproduceReport, candidate_from_experiment,
                                           candidates_from_study, reproduce, seeds_for, write_report)
from recsearch.reproduce.source import StudySource, open_study, pick_trial

__all__ = ["Candidate", "ExportResult", "ReproduceReport", "StudySource", "candidate_from_experiment",
           "candidates_from_study", "export_trial", "open_study", "pick_trial", "provenance_of", "reproduce",
           "seeds_for", "write_report"]
