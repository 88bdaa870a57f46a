"""A real WordPress on loopback for the integration tests: started once per session."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from harness import RealWordPress, Unavailable
from round_trip import REPORTS, RoundTrip
from shared_fixtures import WORDPRESS_IMPORTER, WPTT, needs_shared
from wp_compare import Comparison

THEME_UNIT_TEST = WPTT / "themeunittestdata.wordpress.xml"
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def wordpress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealWordPress]:
    """WordPress 6.x from Debian, loaded with the theme-unit-test corpus."""
    if not THEME_UNIT_TEST.exists():
        pytest.skip(f"{THEME_UNIT_TEST} is not available")
    started = time.monotonic()
    site = RealWordPress(tmp_path_factory.mktemp("wordpress"))
    try:
        site.start()
    except Unavailable as exc:
        site.stop()
        pytest.skip(f"no real WordPress here: {exc}")
    except BaseException:
        site.stop()
        raise
    try:
        made: dict[str, Any] = site.load_wxr(THEME_UNIT_TEST)
        assert not made["failed"], made["failed"]
        TIMINGS.update(site.timings)
        TIMINGS["ready"] = time.monotonic() - started
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="session")
def round_trip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RoundTrip:
    """round_trip(wxr_file) -> Comparison: the file imported into a fresh WordPress, compared with `wordpress`.

    Needs the official WordPress Importer in ../shared/tools/wordpress-importer/ (else skips before
    starting anything). The attachments of `wordpress` get placeholder files first, so that an
    import can fetch them from it.
    """
    needs_shared(WORDPRESS_IMPORTER)
    wordpress: RealWordPress = request.getfixturevalue("wordpress")
    wordpress.provide_attachment_files()
    return RoundTrip(wordpress, tmp_path_factory.mktemp("round-trip"))


@pytest.fixture(scope="session")
def wordpress_round_trip(round_trip: RoundTrip, tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    """WordPress's own round trip: `wordpress` exported by export_wp() (all content), imported by the WordPress Importer."""
    wxr = tmp_path_factory.mktemp("wordpress-export") / "wordpress.xml"
    round_trip.source.export_wxr(wxr)
    try:
        return round_trip(wxr)
    except Unavailable as exc:
        pytest.skip(f"no second WordPress here: {exc}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        figures = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in TIMINGS.items())
        terminalreporter.write_line(f"real WordPress: {figures}")
    for title, report in REPORTS.items():
        terminalreporter.write_sep("-", title)
        for line in report.splitlines():
            terminalreporter.write_line(line)
