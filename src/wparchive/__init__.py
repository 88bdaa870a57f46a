"""wparchive: archive WordPress sites through the REST API into SQLite."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/wparchive/wparchive"
USER_AGENT = f"wparchive/{__version__} (+{PROJECT_URL})"
MAX_CONCURRENCY = 16  # pages fetched at once, at most: beyond this a harvest is a load test, not an archive
MAX_JOBS = 16  # sites harvested at once, at most: their writes to the one archive take turns anyway
