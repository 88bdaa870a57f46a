"""Re-deriving every cleaned column from the raw JSON kept in the archive, offline.

A better cleaner can then be applied to old harvests without fetching anything again.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from sqlite_utils.db import Database

from .clean import Boilerplate, site_hosts_of
from .config import load_boilerplate
from .paths import config_dir
from .db import ensure_db_shape, raw_records, rewrite_derived, site_contexts, term_names
from .db.queries import raw_count_sql
from .errors import archive_error
from .progress import Progress, SilentProgress
from .records import RECORD_BUILDERS, TABLE_ORDER, InvalidItem, SiteContext
from .rows import Provenance, Record


def rebuild_archive(db: Database, progress: Progress | None = None,
                    boilerplate: Boilerplate | None = None) -> dict[str, int]:
    """Rebuild the derived columns of every table from raw_json; returns rows rebuilt per table.

    progress hears of one task per table, sized by its records with raw JSON. boilerplate
    defaults to the rules of the bundled config/boilerplate.toml.
    """
    rules = boilerplate if boilerplate is not None else load_boilerplate(config_dir())
    try:
        return _rebuild(db, rules, progress or SilentProgress())
    except sqlite3.DatabaseError as exc:  # a damaged file, a full disk: said in words, not a traceback
        raise archive_error(exc, "the archive") from exc


def _rebuild(db: Database, rules: Boilerplate, progress: Progress) -> dict[str, int]:
    contexts = {
        site["id"]: SiteContext(
            site_id=site["id"], home=site["home"],
            hosts=site_hosts_of(site["home"], site["url"] or "", site["api_root"] or ""),
            taxonomy_by_rest_base=site["taxonomies"], boilerplate=rules,
        )
        for site in site_contexts(db)
    }
    rebuilt: dict[str, int] = {}
    for table in TABLE_ORDER:
        if table == "posts":
            contexts = {sid: _with_term_names(db, ctx) for sid, ctx in contexts.items()}
        build = RECORD_BUILDERS[table]
        rebuilt[table] = 0
        progress.begin(table, db.execute(raw_count_sql(table), [table]).fetchone()[0])
        try:
            for batch in raw_records(db, table):
                records: list[Record] = []
                for _key, raw, prov, site_id in batch:
                    ctx = contexts.get(site_id)
                    if ctx is None:
                        continue
                    try:
                        records.append(build(json.loads(raw), ctx, Provenance(**prov)))
                    except (InvalidItem, ValueError):
                        continue  # kept raw as it was; the row keeps its earlier derivation
                rewrite_derived(db, records)
                rebuilt[table] += len(records)
                progress.advance(len(batch))
        finally:
            progress.end(table)
    ensure_db_shape(db)
    return rebuilt


def _with_term_names(db: Database, ctx: SiteContext) -> SiteContext:
    return replace(ctx, term_names=term_names(db, ctx.site_id))
