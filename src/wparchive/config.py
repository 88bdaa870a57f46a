"""The harvest's configuration files: the sites to harvest (sites.toml), their credentials, and the
boilerplate rules of cleaning (boilerplate.toml)."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from cssselect import SelectorError
from lxml.cssselect import CSSSelector
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from . import MAX_CONCURRENCY
from .clean import Boilerplate
from .client import split_credentials, url_problem
from .errors import ConfigError
from .schedules import Schedule, parse_schedule




class SiteOptions(BaseModel):
    """Options a site may set; [defaults] sets them for every site."""

    model_config = ConfigDict(extra="forbid")

    delay: float | None = Field(default=None, ge=0)
    timeout: float | None = Field(default=None, ge=1)
    max_response_mb: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    include: list[str] = []
    exclude: list[str] = []
    credentials_env: str | None = None
    credentials_file: str | None = None
    private: bool = False
    revisions: bool = False
    wpcom: bool = False
    # When the job queue harvests the site again (wparchive enqueue / worker); `wparchive harvest` ignores it
    schedule: str | None = None

    @field_validator("schedule")
    @classmethod
    def _is_a_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            parse_schedule(value)  # its ValueError says what is wrong
        return value

    def parsed_schedule(self) -> Schedule | None:
        """The site's schedule, parsed; None when it has none."""
        return None if self.schedule is None else parse_schedule(self.schedule)


class SiteConfig(SiteOptions):
    """One site of sites.toml (or of the command line)."""

    url: str
    name: str | None = None
    # A user:password@ in the URL, moved out of it at once so that it is never stored or shown
    _url_credentials: tuple[str, str] | None = PrivateAttr(default=None)

    @field_validator("url")
    @classmethod
    def _looks_like_a_url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem:
            raise ValueError(problem)  # said without the URL, which may hold a password
        return value

    def model_post_init(self, context: object) -> None:
        self.url, self._url_credentials = split_credentials(self.url)

    @property
    def credentials_in_url(self) -> bool:
        """Whether the URL as given held a user:password@ (now moved out of it)."""
        return self._url_credentials is not None

    def credentials(self) -> tuple[str, str] | None:
        """The site's user and application password: from its URL, its environment variable or its
        file, whichever one is given; ConfigError when several are, or when they cannot be read."""
        if self._url_credentials is None:
            return load_credentials(self.credentials_env, self.credentials_file)
        named = "credentials_env" if self.credentials_env else "credentials_file" if self.credentials_file else ""
        if named:
            raise ConfigError(f"the URL of {self.url} holds a user and password, and {named} names others: give one",
                              hint="Give the credentials one way only: in the URL, or with --auth-env or --auth-file "
                                   "(credentials_env or credentials_file in sites.toml).")
        user, password = self._url_credentials
        if not user or not password:
            raise ConfigError(f"the URL of {self.url} names a user without a password",
                              hint="Write it as https://user:application-password@example.org/, or use --auth-env.")
        return user, password


class SitesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: SiteOptions = SiteOptions()
    site: list[dict[str, object]] = []


def load_sites(path: Path) -> list[SiteConfig]:
    """The sites of a sites.toml, each with [defaults] filled in; ConfigError says what is wrong where."""
    return load_sites_and_defaults(path)[0]


# What [defaults] gives a site sites.toml does not list (a URL a queue's job names): never credentials,
# which would go to whatever site the job names, and no schedule, which would make a one-off job return.
_NOT_FOR_UNLISTED = frozenset({"credentials_env", "credentials_file", "private", "revisions", "schedule"})


def load_sites_and_defaults(path: Path) -> tuple[list[SiteConfig], dict[str, object]]:
    """The sites of a sites.toml, each with [defaults] filled in, and the [defaults] that a site it does
    not list may take (all but credentials and schedule); ConfigError says what is wrong where."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except OSError as exc:  # a folder, no permission, a name too long, a file where a folder should be
        raise ConfigError(f"{path} cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        parsed = SitesFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
    defaults = parsed.defaults.model_dump(exclude_unset=True)
    sites = []
    for number, site in enumerate(parsed.site, start=1):
        try:
            sites.append(SiteConfig.model_validate({**defaults, **site}))
        except ValidationError as exc:
            raise ConfigError(f"{path}: [[site]] number {number}: {_first_error(exc)}") from None
    return sites, {name: value for name, value in defaults.items() if name not in _NOT_FOR_UNLISTED}


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"


def load_credentials(env_name: str | None = None, file: str | None = None) -> tuple[str, str] | None:
    """A "user:application password" pair from an environment variable or a file only its owner may read.

    Never from the command line, where it would land in shell history and process lists.
    """
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(f"the environment variable {env_name} named for credentials is not set")
        source = f"${env_name}"
    elif file:
        path = Path(file).expanduser()
        try:
            mode = path.stat().st_mode
            if mode & 0o077:
                raise ConfigError(f"the credentials file {path} may be read by others: run chmod 600 {path}")
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ConfigError(f"the credentials file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"the credentials file {path} cannot be read: {getattr(exc, 'strerror', '') or exc}") \
                from None
        source = str(path)
    else:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ConfigError(f"credentials in {source} must read user:application-password")
    return user, password


class _BoilerplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selectors: list[str] = []
    phrases: list[str] = []


def load_boilerplate(directory: Path) -> Boilerplate:
    """The boilerplate rules of boilerplate.toml (none when the file is absent)."""
    path = directory / "boilerplate.toml"
    try:
        parsed = _BoilerplateFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (FileNotFoundError, NotADirectoryError):
        return Boilerplate()
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
    for selector in parsed.selectors:
        try:
            CSSSelector(selector, translator="html")
        except SelectorError as exc:
            raise ConfigError(f"{path}: selector {selector!r}: {exc}") from None
    try:
        return Boilerplate(selectors=parsed.selectors, phrases=parsed.phrases)
    except re.error as exc:
        raise ConfigError(f"{path}: phrase {exc.pattern!r}: {exc}") from None
