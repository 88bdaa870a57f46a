"""A real WordPress on loopback for the integration tests: started once per session."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from harness import RealWordPress, Unavailable
from shared_fixtures import WPTT

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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        figures = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in TIMINGS.items())
        terminalreporter.write_line(f"real WordPress: {figures}")
