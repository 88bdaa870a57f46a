"""Whole tables and views as streamed JSON or JSONL, which Datasette 0.65 offers only as CSV; and as
CSV that spreadsheets open safely, which Datasette's own is not (its CSV has no hook for cells)."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

from datasette.utils.asgi import AsgiStream, Response

from ..db.queries import stream_sql
from ..spreadsheet import BOM, spreadsheet_safe

CHUNK = 1000


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):  # raw bodies of harvest_errors, as Datasette encodes them
        return {"$base64": True, "encoded": base64.b64encode(value).decode("ascii")}
    return value


async def stream_table(request: Any, datasette: Any) -> Any:
    """/-/wparchive/stream/TABLE.jsonl, .json or .csv (?bom=1: with a byte order mark, for Excel): every
    row, in chunks, with memory that does not grow."""
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
        if fmt == "csv" and request.args.get("bom"):
            await writer.write(BOM)
        while True:
            sql, params = stream_sql(table, is_view=is_view, after=position, limit=CHUNK)
            result = await database.execute(sql, params, custom_time_limit=60_000)
            rows = result.rows
            if not rows:
                break
            await writer.write(_chunk([c for c in result.columns if c != "__position"], rows, fmt, first=first))
            first = False
            position = rows[-1]["__position"]
            if len(rows) < CHUNK:
                break
        if fmt == "json":
            await writer.write("\n]\n")

    content_type = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"}[fmt]
    content_type += "; charset=utf-8"
    return AsgiStream(send, content_type=content_type,
                      headers={"content-disposition": f'attachment; filename="{table}.{fmt}"'})


def _chunk(columns: list[str], rows: list[Any], fmt: str, *, first: bool) -> str:
    """A chunk of rows as text: JSON lines; elements of a JSON array (a comma before all but the
    first); or CSV (the first chunk with a header), each cell made safe for spreadsheets and bytes
    as base64."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        if first:
            writer.writerow(columns)
        for row in rows:
            writer.writerow([spreadsheet_safe(base64.b64encode(row[c]).decode("ascii") if isinstance(row[c], bytes)
                                              else row[c]) for c in columns])
        return out.getvalue()
    lines = [json.dumps({c: _jsonable(row[c]) for c in columns}, ensure_ascii=False) for row in rows]
    if fmt == "json":
        return ("\n" if first else ",\n") + ",\n".join(lines)
    return "".join(line + "\n" for line in lines)
