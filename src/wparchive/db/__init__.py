"""The archive database: the only package that writes SQL.

schema.py creates and checks the tables; runs.py keeps sites, runs, errors and sync state;
save.py writes pages of records with their versions, changes and tombstones; merge.py folds one
archive into another.
"""

from .lock import archive_lock
from .runs import (
    archive_status, finish_run, get_sync_state, known_api_root, mark_killed_runs, pending_retries, record_error, record_failure,
    resolve_errors, save_collection_counts, save_site, set_site_taxonomies, set_sync_state, site_contexts, start_run,
    SyncState, term_names,
)
from .save import (
    MODIFIED_TABLES, clear_seen, fetched_links, known_files, live_signatures, mark_deleted, media_sources,
    raw_records, rewrite_derived, save_file, save_page, save_revisions, unseen_live_keys,
)
from .schema import (
    checkpoint, ensure_db_shape, ensure_tables, FTS_CONFIG, open_db, SCHEMA, SCHEMA_VERSION, scope, VIEWS,
)

__all__ = [
    "MODIFIED_TABLES", "archive_lock", "archive_status", "checkpoint", "clear_seen", "ensure_db_shape",
    "ensure_tables", "fetched_links", "finish_run", "FTS_CONFIG", "get_sync_state", "known_api_root", "known_files",
    "live_signatures", "mark_deleted",
    "mark_killed_runs", "media_sources", "open_db", "pending_retries", "raw_records", "record_error",
    "record_failure", "resolve_errors", "rewrite_derived", "save_collection_counts", "save_file", "save_page",
    "save_revisions", "save_site", "SCHEMA", "SCHEMA_VERSION", "scope", "set_site_taxonomies", "set_sync_state",
    "site_contexts", "start_run", "SyncState", "term_names", "unseen_live_keys", "VIEWS",
]
