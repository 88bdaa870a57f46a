"""WXR round trips: a WXR file imported into a fresh WordPress, harvested, and compared with the source's archive.

    round_trip = RoundTrip(source, workdir)      # source: a running RealWordPress with the content
    comparison = round_trip(wxr_file)            # -> wp_compare.Comparison (source A against the import B)
    round_trip.imports[wxr_file]                 # -> harness.WXRImport: the importer's counts and messages
    round_trip.source_db_path                    # the source's archive, for an export of it

Each call starts a WordPress of its own (empty, pretty permalinks like the source), imports the file
with the official WordPress Importer (attachments fetched from the addresses in the file, which
may be the source's), harvests it signed in with an application password (drafts, scheduled and
private items included), stops it, and compares its archive with the source's, harvested the same
way once.
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils.db import Database

from harness import RealWordPress, WXRImport
from wp_compare import Comparison, compare_archives
from wparchive.client import Client
from wparchive.db import open_db
from wparchive.harvest import harvest_site

# Comparisons to show at the end of the test run (conftest's terminal summary): title -> text.
REPORTS: dict[str, str] = {}


def harvest_signed_in(site: RealWordPress, db_path: Path) -> Database:
    """Harvest a WordPress into a new archive as its administrator, drafts and private items included."""
    user, password = site.app_password()
    db = open_db(str(db_path))
    result = harvest_site(db, Client(delay=0, timeout=60, auth=(user, password)), f"{site.home}/", private=True)
    if result.status != "ok":
        raise RuntimeError(f"harvest of {site.home} ended {result.status}: {result.errors}")
    return db


class RoundTrip:
    """The source's archive, and a fresh WordPress per WXR file to import it into and compare."""

    def __init__(self, source: RealWordPress, workdir: Path) -> None:
        self.source = source
        self.workdir = workdir
        self.imports: dict[Path, WXRImport] = {}
        self.archives: dict[Path, Database] = {}
        self.source_db_path = workdir / "source.db"
        self._source_db: Database | None = None

    @property
    def source_db(self) -> Database:
        """The source's archive (at source_db_path), harvested signed in on first use."""
        if self._source_db is None:
            self.source.set_permalinks("pretty")
            self._source_db = harvest_signed_in(self.source, self.source_db_path)
        return self._source_db

    def __call__(self, wxr_file: Path, *more_files: Path, fetch_attachments: bool = True) -> Comparison:
        """Import wxr_file (and more_files after it, in turn, as the parts of a split export) into a
        fresh WordPress, harvest it, and compare the source's archive with it."""
        source_db = self.source_db
        number = len(self.imports) + 1
        folder = self.workdir / f"import-{number}"
        folder.mkdir()
        target = RealWordPress(folder, title=f"Import {number}")
        try:
            target.start(empty=True)
            target.set_permalinks("pretty")
            for part in (wxr_file, *more_files):
                self.imports[part] = target.import_wxr(part, fetch_attachments=fetch_attachments)
            self.archives[wxr_file] = harvest_signed_in(target, folder / "archive.db")
        finally:
            target.stop()
        return compare_archives(source_db, self.archives[wxr_file])
