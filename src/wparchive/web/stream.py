"""Whole tables and views as streamed JSON or JSONL, which Datasette 0.65 offers only as CSV, and
as CSV that spreadsheets open safely, which Datasette's own is not (its CSV has no hook for cells);
and every row of a search as CSV, JSON or JSONL."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from datasette.utils.asgi import AsgiStream, Response

from ..db.queries import stream_sql
from ..spreadsheet import BOM, spreadsheet_safe
from .access import asked_database

CHUNK = 1000
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8",
                 "jsonl": "application/x-ndjson; charset=utf-8"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):  # raw bodies of harvest_errors, as Datasette encodes them
        return {"$base64": True, "encoded": base64.b64encode(value).decode("ascii")}
    return value


class _Encoder:
    """Rows as text in one format, a batch at a time: a CSV header or a JSON array's brackets
    and commas where they belong. With columns known ahead, a CSV of no rows still has its header.
    CSV cells are made safe for spreadsheets (bytes as base64); bom starts a CSV with a byte order
    mark, for Excel."""

    def __init__(self, fmt: str, columns: tuple[str, ...] = (), *, bom: bool = False) -> None:
        self.fmt, self.columns, self.first, self.bom = fmt, columns, True, bom and fmt == "csv"

    def start(self) -> str:
        mark = BOM if self.bom else ""
        if self.fmt == "csv" and self.columns:
            self.first = False
            return mark + self._csv([list(self.columns)])
        return "[" if self.fmt == "json" else mark

    @staticmethod
    def _csv(rows: list[list[Any]]) -> str:
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        return out.getvalue()

    def rows(self, rows: list[dict[str, Any]]) -> str:
        if self.fmt == "csv":
            header = [list(rows[0])] if self.first and rows else []
            self.first = self.first and not rows
            return self._csv(header + [[spreadsheet_safe(base64.b64encode(v).decode("ascii") if isinstance(v, bytes)
                                                          else v) for v in row.values()] for row in rows])
        lines = []
        for row in rows:
            text = json.dumps({c: _jsonable(v) for c, v in row.items()}, ensure_ascii=False)
            if self.fmt == "json":
                text = ("\n" if self.first else ",\n") + text
                self.first = False
            else:
                text += "\n"
            lines.append(text)
        return "".join(lines)

    def end(self) -> str:
        return "\n]\n" if self.fmt == "json" else ""


def _attachment(send: Any, fmt: str, name: str) -> AsgiStream:
    return AsgiStream(send, content_type=CONTENT_TYPES[fmt],
                      headers={"content-disposition": f'attachment; filename="{name}.{fmt}"'})


async def stream_table(request: Any, datasette: Any) -> Any:
    """/-/wparchive/stream/TABLE.jsonl, .json or .csv (?bom=1: with a byte order mark, for Excel) of the
    first database served (or of the one ?database= names), when the reader may see it: every row, in
    chunks, with memory that does not grow."""
    table, fmt = request.url_vars["table"], request.url_vars["format"]
    database = await asked_database(request, datasette, table)
    is_view = table in await database.view_names()
    if not is_view and table not in await database.table_names():
        return Response.text(f"No table or view {table}", status=404)

    async def send(writer: Any) -> None:
        position: Any = 0
        encoder = _Encoder(fmt, bom=bool(request.args.get("bom")))
        await writer.write(encoder.start())
        while True:
            sql, params = stream_sql(table, is_view=is_view, after=position, limit=CHUNK)
            result = await database.execute(sql, params, custom_time_limit=60_000)
            rows = result.rows
            if not rows:
                break
            columns = [c for c in result.columns if c != "__position"]
            await writer.write(encoder.rows([{c: row[c] for c in columns} for row in rows]))
            position = rows[-1]["__position"]
            if len(rows) < CHUNK:
                break
        await writer.write(encoder.end())

    return _attachment(send, fmt, table)


def stream_rows(first: list[dict[str, Any]], rest: AsyncIterator[list[dict[str, Any]]], fmt: str, name: str,
                columns: tuple[str, ...]) -> Any:
    """A download of rows that come in chunks: the first (already read, so that a search that
    cannot run is an error status, not a broken file), then the rest as they come."""

    async def send(writer: Any) -> None:
        encoder = _Encoder(fmt, columns)
        await writer.write(encoder.start() + encoder.rows(first))
        async for rows in rest:
            await writer.write(encoder.rows(rows))
        await writer.write(encoder.end())

    return _attachment(send, fmt, name)
