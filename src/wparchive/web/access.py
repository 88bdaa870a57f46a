"""Which databases a reader may see: Datasette decides, as it does for its own pages of a database's
table (the table's permission, then the database's, then the instance's), and the plugin's pages
show nothing Datasette's own would refuse that reader."""

from __future__ import annotations

from typing import Any

from datasette.utils.asgi import Forbidden, NotFound


async def may_see(datasette: Any, actor: Any, database: str, table: str = "posts") -> bool:
    """Whether actor may see a table of a database, as Datasette's table page decides (a database's
    `allow` holds for its tables too)."""
    visible, _ = await datasette.check_visibility(
        actor, permissions=[("view-table", (database, table)), ("view-database", database), "view-instance"])
    return bool(visible)


async def asked_database(request: Any, datasette: Any, table: str = "posts") -> Any:
    """The database a page's ?database= names (the first served when it names none), when the request's
    actor may see its table: NotFound (404) when none is served by that name, Forbidden (403) when
    the actor may not see it."""
    name = request.args.get("database")
    database = datasette.get_database() if name is None else datasette.databases.get(name)
    if database is None or database.is_memory:
        raise NotFound(f"There is no database {name!r} here.")
    if not await may_see(datasette, request.actor, database.name, table):
        raise Forbidden(f"You may not see the database {database.name!r}.")
    return database
