"""Facets on categories and tags counted from post_terms (indexed), not from the JSON arrays of posts.

Datasette's array facet reads every row of the table whole (its text too) and parses its JSON,
which on a large archive runs past the facet time limit: the facet then shows nothing after half a
second. This one counts the term names of one taxonomy among the posts the page shows, from the
post_terms table and its indexes; selecting a value filters with `<column>__arraycontains`, as the
array facet did, so links and filters stay the same.

In metadata.yml: `facets: [{terms: categories}, {terms: tags}]`; in a URL: `?_facet_terms=tags`.
"""

from __future__ import annotations

import re
from typing import Any

from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import path_with_added_args, path_with_removed_args

# The posts columns holding term names, and the taxonomy whose names they hold.
TAXONOMY_OF_COLUMN = {"categories": "category", "tags": "post_tag"}

# The SQL Datasette hands a facet for a table page without filters: every row of the table.
_WHOLE_TABLE = re.compile(r"select\s+.*\s+from\s+(\[\w+\]|\"\w+\"|\w+)\s*", re.IGNORECASE | re.DOTALL)


def terms_facet_sql(sql: str, column: str, taxonomy: str, limit: int) -> str:
    """SQL counting the term names of a taxonomy among the posts that sql selects, most used first.

    Over the whole table it reads the (taxonomy, term) index alone; otherwise it looks up the
    post_terms of each post selected. Posts read from feeds or pages (the fallback, when the REST
    API was closed) have names without terms: their JSON arrays are counted, found by the source index.
    """
    whole = bool(_WHOLE_TABLE.fullmatch(sql.strip())) and " where " not in sql.lower()

    def in_scope(post: str) -> str:
        return "1" if whole else f"{post} IN (SELECT key FROM ({sql}))"

    return f"""
        SELECT value, sum(n) AS count FROM (
            SELECT t.name AS value, counted.n FROM (
                SELECT pt.term, count(*) AS n FROM post_terms pt
                WHERE pt.taxonomy = '{taxonomy}' AND {in_scope("pt.post")} GROUP BY pt.term) counted
            JOIN terms t ON t.key = counted.term
            UNION ALL
            SELECT j.value, count(*) FROM posts p, json_each(CASE WHEN json_valid(p.[{column}]) THEN p.[{column}]
                                                                  ELSE '[]' END) j
            WHERE p.source IN ('feed', 'html') AND {in_scope("p.key")} GROUP BY j.value)
        GROUP BY value ORDER BY count DESC, value LIMIT {int(limit)}"""


class TermsFacet(Facet):  # type: ignore[misc]  # Datasette is untyped
    """Counts of category or tag names among the rows shown, from post_terms."""

    type = "terms"

    async def suggest(self) -> list[Any]:
        return []

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Datasette's facet results: one per configured column, its values, counts and toggle links."""
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        if self.table != "posts":
            return results, timed_out
        size = self.get_facet_size()
        pairs = self.get_querystring_pairs()
        for config in self.get_configs():
            column = config["config"].get("column") or config["config"]["simple"]
            taxonomy = TAXONOMY_OF_COLUMN.get(column)
            if taxonomy is None:
                continue
            try:
                rows = await self.ds.execute(self.database, terms_facet_sql(self.sql, column, taxonomy, size + 1), self.params,
                                             truncate=False,
                                             custom_time_limit=self.ds.setting("facet_time_limit_ms"))
            except QueryInterrupted:
                timed_out.append(column)
                continue
            values = []
            for row in rows.rows[:size]:
                value = str(row["value"])
                arg = {f"{column}__arraycontains": value}
                selected = (f"{column}__arraycontains", value) in pairs
                path = path_with_removed_args(self.request, arg) if selected else path_with_added_args(self.request, arg)
                values.append({"value": value, "label": value, "count": row["count"],
                               "toggle_url": self.ds.absolute_url(self.request, path), "selected": selected})
            results.append({
                "name": column, "type": self.type, "results": values,
                "hideable": config["source"] != "metadata",
                "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet_terms": column})),
                "truncated": len(rows.rows) > size,
            })
        return results, timed_out
