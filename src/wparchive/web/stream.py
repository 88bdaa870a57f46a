"""Whole tables and views as streamed JSON or JSONL, which Datasette 0.65 offers only as CSV."""

from __future__ import annotations

import base64
import json
from typing import Any

from datasette.utils.asgi import AsgiStream, Response

from ..db.queries import stream_sql

CHUNK = 1000


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):  # raw bodies of harvest_errors, as Datasette encodes them
        return {"$base64": True, "encoded": base64.b64encode(value).decode("ascii")}
    return value


async def stream_table(request: Any, datasette: Any) -> Any:
    """/-/wparchive/stream/TABLE.jsonl or .json: every row, in chunks, with memory that does not grow."""
    table, fmt = request.url_vars["table"], request.url_vars["format"]
    database = datasette.get_database()
    is_view = table in await database.view_names()
    if not is_view and table not in await database.table_names():
        return Response.text(f"No table or view {table}", status=404)
    if not await datasette.permission_allowed(request.actor, "view-table", (database.name, table), default=True):
        return Response.text("Forbidden", status=403)

    async def send(writer: Any) -> None:
        position: Any = 0
        first = True
        if fmt == "json":
            await writer.write("[")
        while True:
            sql, params = stream_sql(table, is_view=is_view, after=position, limit=CHUNK)
            result = await database.execute(sql, params, custom_time_limit=60_000)
            rows = result.rows
            if not rows:
                break
            columns = [c for c in result.columns if c != "__position"]
            lines = []
            for row in rows:
                text = json.dumps({c: _jsonable(row[c]) for c in columns}, ensure_ascii=False)
                if fmt == "json":
                    text = ("\n" if first else ",\n") + text
                    first = False
                else:
                    text += "\n"
                lines.append(text)
            await writer.write("".join(lines))
            position = rows[-1]["__position"]
            if len(rows) < CHUNK:
                break
        if fmt == "json":
            await writer.write("\n]\n")

    content_type = "application/json; charset=utf-8" if fmt == "json" else "application/x-ndjson; charset=utf-8"
    return AsgiStream(send, content_type=content_type,
                      headers={"content-disposition": f'attachment; filename="{table}.{fmt}"'})
