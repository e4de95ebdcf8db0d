"""Study storages: open an Optuna storage by URL or journal path; the journal backend that cannot lose a study."""

from recsearch.storage.backends import JOURNAL, RDB_PREFIXES, batched_writes, default_study_name, open_storage

__all__ = ["JOURNAL", "RDB_PREFIXES", "batched_writes", "default_study_name", "open_storage"]
