"""The home page of an archive served alone, without Datasette's survey of every table.

Datasette's home page looks up the columns, primary keys, full-text table and permissions of every
table of every database (some 35 in an archive, each a trip to a SQL thread and back) to list five
of them. Under load each trip waits behind the other pages being served, and the page took seconds.
An archive's home page lists its main tables instead; anything else gets Datasette's own page.
"""

from __future__ import annotations

from typing import Any

from datasette.utils.asgi import Response
from datasette.version import __version__
from datasette.views.index import IndexView

from .metadata import ARCHIVE_TABLES

# The tables a reader of an archive starts from, listed on its home page; the rest are one link away.
MAIN_TABLES = ("posts", "comments", "terms", "users", "media")


class ArchiveIndexView(IndexView):  # type: ignore[misc]  # Datasette is untyped
    """Datasette's home page, with the table list of an archive named instead of surveyed."""

    async def get(self, request: Any) -> Response:
        if request.url_vars.get("format"):
            return await super().get(request)
        await self.ds.ensure_permissions(request.actor, ["view-instance"])
        shown = [db for name, db in self.ds.databases.items()
                 if (await self.ds.check_visibility(request.actor, "view-database", name))[0]]
        names = set(await shown[0].table_names()) if len(shown) == 1 else set()
        if not ARCHIVE_TABLES <= names:
            return await super().get(request)  # not an archive alone: Datasette's own page
        database = shown[0]
        tables = [{"name": table} for table in MAIN_TABLES if table in names and
                  (await self.ds.check_visibility(request.actor, "view-table", (database.name, table)))[0]]
        return await self.render(["index.html"], request=request, context={
            "databases": [{"name": database.name, "path": self.ds.urls.database(database.name),
                           "tables_and_views_truncated": tables, "tables_and_views_more": True}],
            "metadata": self.ds.metadata(),
            "datasette_version": __version__,
            "private": not await self.ds.permission_allowed(None, "view-instance", default=True),
        })


async def home_page(request: Any, datasette: Any) -> Response:
    return await ArchiveIndexView(datasette).get(request)
