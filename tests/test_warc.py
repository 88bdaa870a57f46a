"""--warc: every API response in a WARC file, rows pointing at the record they came from."""

from __future__ import annotations

import json

from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from wparchive.cli import cli
from wparchive.sample.content import sample_site

USER, PASSWORD = "margit", "wxyz 9876 secret"


def test_every_response_is_captured_and_rows_name_their_record(make_server, tmp_path, monkeypatch) -> None:
    server = make_server(sample_site(), credentials=(USER, PASSWORD))
    monkeypatch.setenv("WP_AUTH", f"{USER}:{PASSWORD}")
    db_path, warcs = str(tmp_path / "a.db"), tmp_path / "warc"
    result = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", db_path, "--delay", "0", "--quiet",
                                      "--warc", str(warcs), "--auth-env", "WP_AUTH"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    files = list(warcs.glob("wparchive-127.0.0.1-*.warc.gz"))
    assert len(files) == 1
    responses, requests = {}, []
    with open(files[0], "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                responses[record.rec_headers.get_header("WARC-Record-ID")] = (
                    record.rec_headers.get_header("WARC-Target-URI"), record.content_stream().read())
            elif record.rec_type == "request":
                requests.append(record.http_headers)
    assert len(responses) == len(server.requests) == len(requests)
    for headers in requests:
        assert headers.get_header("Authorization") is None
    assert PASSWORD.encode() not in files[0].read_bytes()

    import sqlite_utils

    db = sqlite_utils.Database(db_path)
    assert db["posts"].count == 29
    for row in db["posts"].rows:
        uri, body = responses[row["warc_record_id"]]
        assert uri == row["response_url"]
        served = {item["id"]: item for item in json.loads(body)}
        assert json.loads(db["raw_json"].get(("posts", row["key"]))["json"]) == served[row["wp_id"]]
