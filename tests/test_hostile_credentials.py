"""The application password goes to the origin it was given for (scheme, host and port) and
nowhere else, whatever a hostile server answers; a password in the site URL is never stored,
logged, written to a WARC or shown.

Another host is 127.0.0.2, another origin on the same host another port; every test checks the
wire itself (the headers the servers received) and, where anything is written, every byte of it.
"""

from __future__ import annotations

import base64
import gzip
import logging
import shutil
import ssl
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from wparchive.cli import EXIT_FAILED, cli
from wparchive.client import Client, origin_of, split_credentials
from wparchive.config import SiteConfig
from wparchive.db import open_db
from wparchive.harvest import HarvestSettings, harvest_site, harvest_sites
from wparchive.media import download_media
from wparchive.sample.content import sample_site
from wparchive.sample.server import API_REL, WordPressServer
from wparchive.sample.site import Item, tiny_png

USER, PASSWORD = "margit", "abcd EFGH 1234 ijkl MNOP 5678"
IN_URL = f"{USER}:{quote(PASSWORD)}@"  # as a user writes it in a URL: the spaces percent-encoded


def _traces() -> list[bytes]:
    """Every form the password could take on the wire or on disk."""
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [PASSWORD.encode(), quote(PASSWORD).encode(), token.encode(), PASSWORD.split()[0].encode() + b" EFGH"]


def _assert_no_secret(*places: bytes | str) -> None:
    for place in places:
        data = place.encode("utf-8", "surrogateescape") if isinstance(place, str) else place
        for trace in _traces():
            assert trace not in data


def _signed(server: WordPressServer) -> list[str]:
    """The paths a server was asked for with an Authorization header."""
    return [path for path, headers in zip(server.requests, server.request_headers, strict=True)
            if any(name.lower() == "authorization" for name in headers)]


def _db_bytes(path: str | Path) -> bytes:
    # The WAL and the journal too: a secret written but not yet checkpointed counts.
    return b"".join(p.read_bytes() for p in Path(path).parent.glob(Path(path).name + "*") if p.is_file())


def _warc_bytes(folder: Path) -> bytes:
    return b"".join(gzip.open(p).read() for p in folder.glob("*.warc.gz"))


def _redirect(path: str, target: str):  # type: ignore[no-untyped-def]
    return lambda p, query: (302, {"Location": target}, b"") if p == path else None


# --- the decision ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url, signed", [
    ("http://example.org/wp-json/", True),
    ("http://EXAMPLE.org:80/other/", True),  # the same origin, spelt otherwise
    ("https://example.org/wp-json/", True),  # http to https on the default ports: the same site, safer
    ("http://example.org:8080/wp-json/", False),  # another port
    ("http://www.example.org/wp-json/", False),  # another host, even www
    ("http://example.org.evil.test/", False),
    ("ftp://example.org/", False),
    ("http://example.org:99999/", False),  # no origin at all
])
def test_credentials_go_to_their_origin_only(url, signed) -> None:
    client = Client(delay=0, auth=(USER, PASSWORD))
    assert not client.signs(url)  # bound to nothing yet: sent nowhere
    client.bind_credentials("http://example.org/")
    assert client.signs(url) is signed


def test_https_credentials_never_go_to_http() -> None:
    client = Client(delay=0, auth=(USER, PASSWORD))
    client.bind_credentials("https://example.org/")
    assert client.signs("https://example.org/x") and not client.signs("http://example.org/x")
    assert not client.signs("https://example.org:8443/x")


def test_a_user_and_password_come_out_of_any_url() -> None:
    assert split_credentials(f"http://{IN_URL}example.org/wp-json/?a=b@c") == (
        "http://example.org/wp-json/?a=b@c", (USER, PASSWORD))
    assert split_credentials("http://u:p@example.org:99999/") == ("http://example.org:99999/", ("u", "p"))
    assert split_credentials("http://u:p@[::1/") == ("http://[::1/", ("u", "p"))  # malformed, still taken out
    assert split_credentials("http://example.org/@home") == ("http://example.org/@home", None)
    assert origin_of("https://[::1]:8443/x") == ("https", "::1", 8443)


# --- on the wire -------------------------------------------------------------------------------------


def test_a_redirect_to_another_port_never_carries_the_password(make_server, db) -> None:
    site = make_server(sample_site(), credentials=(USER, PASSWORD))
    elsewhere = make_server(sample_site())  # the same host, another port: another origin
    site.fault = _redirect("/wp-json/wp/v2/posts", elsewhere.api_url("wp/v2/posts?per_page=100&page=1"))
    result = harvest_site(db, Client(delay=0, retries=0, auth=(USER, PASSWORD)), site.home + "/")
    assert "signed in as Margit Okafor" in result.notes
    assert "/wp-json/wp/v2/users/me" in _signed(site)
    assert [p for p in elsewhere.requests if "/wp/v2/posts" in p]  # the redirect was followed…
    assert _signed(elsewhere) == []  # …without the password


def test_every_hop_is_checked_not_only_the_first(make_server) -> None:
    site = make_server(credentials=(USER, PASSWORD))
    elsewhere = make_server()
    site.fault = lambda path, query: {
        "/a": (301, {"Location": "/b"}, b""),  # within the origin: signed
        "/b": (302, {"Location": f"{elsewhere.home}/c"}, b""),  # to another port: not
    }.get(path)
    elsewhere.fault = _redirect("/c", f"{site.home}/wp-json/")  # and back: signed again
    client = Client(delay=0, retries=0, auth=(USER, PASSWORD))
    client.bind_credentials(site.home + "/")
    assert client.get(site.home + "/a").status_code == 200
    assert _signed(site) == ["/a", "/b", "/wp-json/"] and elsewhere.requests == ["/c"]
    assert _signed(elsewhere) == []


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return key, cert


def test_a_redirect_from_https_to_http_never_carries_the_password(make_server, certificate, monkeypatch) -> None:
    key, cert = certificate
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these override session.verify
        monkeypatch.delenv(name, raising=False)
    secure = WordPressServer(sample_site(), credentials=(USER, PASSWORD))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    secure.httpd.socket = context.wrap_socket(secure.httpd.socket, server_side=True)
    plain = make_server(sample_site(), credentials=(USER, PASSWORD))
    secure.fault = _redirect("/moved/", plain.api_root)
    with secure:
        home = f"https://127.0.0.1:{secure.port}"
        client = Client(delay=0, retries=0, auth=(USER, PASSWORD))
        client.session.verify = str(cert)
        client.bind_credentials(home + "/")
        client.get_json(home + "/wp-json/wp/v2/users/me")  # signed, over TLS: accepted
        assert client.get(home + "/moved/").status_code == 200
    assert _signed(secure) == ["/wp-json/wp/v2/users/me", "/moved/"]
    assert plain.requests == ["/wp-json/"] and _signed(plain) == []


@pytest.mark.parametrize("named_by", ["Link header", "link tag"])
def test_an_api_root_on_another_host_is_harvested_anonymously_and_said(make_server, db, named_by) -> None:
    site = make_server(sample_site(), credentials=(USER, PASSWORD))
    other = make_server(sample_site(), host="127.0.0.2", credentials=(USER, PASSWORD))
    link = f'<{other.api_root}>; rel="{API_REL}"'
    page = f'<html><head><link rel="{API_REL}" href="{other.api_root}"></head><body>Hi</body></html>'.encode()
    site.fault = lambda path, query: ((200, {"Content-Type": "text/html", "Link": link}, b"<html></html>")
                                      if named_by == "Link header" else (200, {"Content-Type": "text/html"}, page)
                                      ) if path == "/" else None
    result = harvest_site(db, Client(delay=0, retries=0, auth=(USER, PASSWORD)), site.home + "/", private=True)
    assert result.api_root == other.api_root and result.status == "ok"
    note = next(n for n in result.notes if "another origin" in n)
    assert "anonymously" in note and site.home in note
    assert not any(n.startswith("signed in") for n in result.notes)
    assert other.requests and _signed(other) == []
    assert {row[0] for row in db.execute("SELECT status FROM posts")} == {"publish"}  # what anyone may see


def test_an_api_root_on_another_host_is_said_without_credentials_too(make_server, db) -> None:
    site = make_server()
    other = make_server(host="127.0.0.2")
    site.fault = lambda path, query: (200, {"Content-Type": "text/html", "Link": f'<{other.api_root}>; rel="{API_REL}"'},
                                      b"<html></html>") if path == "/" else None
    result = harvest_site(db, Client(delay=0, retries=0), site.home + "/")
    assert any("another origin" in n and other.api_root in n for n in result.notes)


def test_media_on_another_host_are_fetched_anonymously(make_server, db, tmp_path) -> None:
    site = sample_site()
    site.items.append(Item(4242, "post", "Two pictures", '<p><img src="/wp-content/uploads/here.png">'
                           '<img src="http://127.0.0.2:{port}/wp-content/uploads/there.png"></p>'))
    other = make_server(host="127.0.0.2")
    other.site.files["/wp-content/uploads/there.png"] = tiny_png("there")
    site.items[-1].content = site.items[-1].content.replace("{port}", str(other.port))
    site.files["/wp-content/uploads/here.png"] = tiny_png("here")
    server = make_server(site, credentials=(USER, PASSWORD))
    client = Client(delay=0, retries=0, auth=(USER, PASSWORD))
    result = harvest_site(db, client, server.home + "/")
    counts = download_media(db, client, result.site_id, tmp_path / "media")
    assert counts.failed == 0 and counts.downloaded >= 2
    assert "/wp-content/uploads/here.png" in _signed(server)  # the site's own: signed, private files included
    assert "/wp-content/uploads/there.png" in other.requests and _signed(other) == []


# --- a password in the URL ----------------------------------------------------------------------------


def test_a_password_in_the_site_url_signs_in_and_is_written_nowhere(make_server, tmp_path, caplog) -> None:
    server = make_server(sample_site(), credentials=(USER, PASSWORD))
    db_path, warc = tmp_path / "a.db", tmp_path / "warc"
    url = server.home.replace("http://", "http://" + IN_URL) + "/"
    with caplog.at_level(logging.DEBUG, logger="wparchive"):
        result = CliRunner().invoke(cli, ["harvest", url, "--db", str(db_path), "--delay", "0", "--warc", str(warc),
                                          "--private", "-v", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "signed in as Margit Okafor" in result.stderr and "shell history" in result.stderr
    db = open_db(str(db_path))
    assert [r[0] for r in db.execute("SELECT site_url FROM harvest_runs")] == [server.home + "/"]
    assert db.execute("SELECT count(*) FROM posts WHERE status = 'draft'").fetchone()[0] == 2  # it signed in
    db.conn.close()
    _assert_no_secret(_db_bytes(db_path), _warc_bytes(warc), result.output, caplog.text)
    assert len(_warc_bytes(warc)) > 10_000  # the WARC was written, and searched


@pytest.mark.parametrize("where", ["unreachable", "bad port"])
def test_a_password_in_a_failing_url_is_in_no_message(tmp_path, where) -> None:
    url = f"http://{IN_URL}127.0.0.1:9/" if where == "unreachable" else f"http://{IN_URL}127.0.0.1:99999/"
    db_path = tmp_path / "a.db"
    result = CliRunner().invoke(cli, ["harvest", url, "--db", str(db_path), "--retries", "0", "-v"])
    assert result.exit_code == EXIT_FAILED and isinstance(result.exception, SystemExit)
    assert "\nError: " in "\n" + result.stderr and "Traceback" not in result.output
    _assert_no_secret(result.output)
    if db_path.exists():  # the unreachable site's run is recorded, with its URL and error
        db = open_db(str(db_path))
        assert db.execute("SELECT count(*) FROM harvest_errors").fetchone()[0] == 1
        assert db.execute("SELECT site_url FROM harvest_runs").fetchone()[0] == "http://127.0.0.1:9/"
        db.conn.close()
        _assert_no_secret(_db_bytes(db_path))


def test_a_password_in_the_url_and_another_credential_is_one_clear_error(make_server, tmp_path, monkeypatch) -> None:
    server = make_server(credentials=(USER, PASSWORD))
    monkeypatch.setenv("WP_AUTH", f"{USER}:other password")
    url = server.home.replace("http://", "http://" + IN_URL) + "/"
    result = CliRunner().invoke(cli, ["harvest", url, "--db", str(tmp_path / "a.db"), "--auth-env", "WP_AUTH"])
    assert result.exit_code == EXIT_FAILED and "give one" in result.stderr and "--auth-env" in result.stderr
    assert not (tmp_path / "a.db").exists() and server.requests == []  # nothing written, nothing asked
    _assert_no_secret(result.output)


def test_a_password_in_a_url_of_sites_toml(make_server, tmp_path) -> None:
    server = make_server(sample_site(), credentials=(USER, PASSWORD))
    url = server.home.replace("http://", "http://" + IN_URL) + "/"
    site = SiteConfig(url=url, private=True)
    assert site.url == server.home + "/" and PASSWORD not in repr(site) and quote(PASSWORD) not in repr(site)
    db_path = tmp_path / "a.db"
    outcome, = harvest_sites(str(db_path), [site], HarvestSettings(delay=0, workers=1))
    assert outcome.status == "ok" and outcome.url == server.home + "/"
    assert "signed in as Margit Okafor" in outcome.result.notes
    _assert_no_secret(_db_bytes(db_path))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "sites.toml").write_text(f'[[site]]\nurl = "{url}"\ncredentials_env = "HOME"\n')
    result = CliRunner().invoke(cli, ["harvest", "--config", str(tmp_path / "config"), "--db", str(tmp_path / "b.db")])
    assert result.exit_code == EXIT_FAILED and "credentials_env names others" in result.stderr
    _assert_no_secret(result.output)
