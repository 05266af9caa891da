"""GeoIP from local MaxMind DB files (the MaxMind DB format, read by ``maxminddb``).

This module does I/O (it opens database files); :mod:`netwatch.enrich.scopes` is the pure
part. A database's role comes from its own metadata (``database_type``): a City or
Country database gives ``country``/``country_name``/``city``, an ASN or ISP database
gives ``asn``/``as_org``. The same fields come out of MaxMind's GeoLite2/GeoIP2 files and
of DB-IP's "lite" files, which use the same record layout.

A database is probed when it is opened (its first records decoded), because a file with
a corrupt data section opens fine and fails only at lookup time. A lookup that still
fails later disables that database and reports it once: the monitor goes on without it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import maxminddb

#: File names looked for in each search directory, in order of preference.
CITY_NAMES = (
    "GeoIP2-City.mmdb",
    "GeoLite2-City.mmdb",
    "dbip-city-lite.mmdb",
    "GeoIP2-Country.mmdb",
    "GeoLite2-Country.mmdb",
    "dbip-country-lite.mmdb",
)
ASN_NAMES = ("GeoIP2-ISP.mmdb", "GeoLite2-ASN.mmdb", "dbip-asn-lite.mmdb")
#: Records decoded when a database is opened, to catch a corrupt data section early.
PROBE_RECORDS = 64

Warn = Callable[[str], None]


def _invalid_database() -> type[Exception]:
    """maxminddb's error for a corrupt file. The library is imported only when a database
    is opened: importing it cost ~50 ms of every command's start-up, GeoIP or not."""
    from maxminddb.errors import InvalidDatabaseError

    return InvalidDatabaseError


def default_dirs(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """``$XDG_DATA_HOME/netwatch`` (default ``~/.local/share/netwatch``), then the places
    geoipupdate and distributions use."""
    env = os.environ if env is None else env
    xdg = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/share")
    return (Path(xdg) / "netwatch", Path("/usr/share/GeoIP"), Path("/var/lib/GeoIP"))


@dataclass(frozen=True, slots=True)
class GeoIPPaths:
    """What the user asked for: explicit files win over a directory, which wins over the
    default search directories. ``search=False`` looks nowhere but the explicit paths."""

    city: str | None = None
    asn: str | None = None
    directory: str | None = None
    search: bool = True


def find_databases(
    paths: GeoIPPaths, dirs: Sequence[Path] | None = None
) -> tuple[Path | None, Path | None]:
    """(city-or-country file, asn file) to open; None where nothing was given or found."""
    if paths.directory is not None:
        dirs = (Path(paths.directory),)
    elif not paths.search:
        dirs = ()
    elif dirs is None:
        dirs = default_dirs()
    city = Path(paths.city) if paths.city else _first(dirs, CITY_NAMES)
    asn = Path(paths.asn) if paths.asn else _first(dirs, ASN_NAMES)
    return city, asn


def _first(dirs: Iterable[Path], names: Iterable[str]) -> Path | None:
    for d, name in itertools.product(dirs, names):
        cand = d / name
        if cand.is_file():
            return cand
    return None


class _Database:
    """One open reader with its role (``geo`` or ``asn``)."""

    def __init__(self, path: Path) -> None:
        import maxminddb

        self.path = path
        self.invalid = _invalid_database()
        self.reader: maxminddb.Reader = maxminddb.open_database(str(path))
        self.kind = self.reader.metadata().database_type
        low = self.kind.lower()
        self.role = "asn" if ("asn" in low or "isp" in low) else "geo"
        if self.role == "geo" and "city" not in low and "country" not in low:
            raise self.invalid(f"unsupported database type {self.kind!r}")
        for _ in itertools.islice(self.reader, PROBE_RECORDS):
            pass

    def close(self) -> None:
        self.reader.close()


def _name(obj: Any) -> str | None:
    if isinstance(obj, dict):
        names = obj.get("names")
        if isinstance(names, dict):
            en = names.get("en")
            if isinstance(en, str):
                return en
    return None


def geo_fields(record: Any) -> dict[str, Any]:
    """``country`` (ISO code), ``country_name``, ``city`` from a City/Country record."""
    out: dict[str, Any] = {}
    if not isinstance(record, dict):
        return out
    country = record.get("country")  # not registered_country: that is the registrant's
    if isinstance(country, dict):
        code = country.get("iso_code")
        if isinstance(code, str):
            out["country"] = code
        name = _name(country)
        if name:
            out["country_name"] = name
    city = _name(record.get("city"))
    if city:
        out["city"] = city
    return out


def asn_fields(record: Any) -> dict[str, Any]:
    """``asn`` (int) and ``as_org`` from an ASN/ISP record."""
    out: dict[str, Any] = {}
    if not isinstance(record, dict):
        return out
    number = record.get("autonomous_system_number")
    if isinstance(number, int) and not isinstance(number, bool):
        out["asn"] = number
    org = record.get("autonomous_system_organization") or record.get("isp")
    if isinstance(org, str) and org:
        out["as_org"] = org
    return out


class GeoIP:
    """Lookups over the opened databases. Not cached here: :class:`Enricher` caches."""

    def __init__(self, databases: Sequence[_Database], warn: Warn) -> None:
        self._dbs = list(databases)
        self._warn = warn
        self.lookup_errors = 0

    @property
    def sources(self) -> tuple[str, ...]:
        """``"GeoLite2-City (path)"`` for each database still in use."""
        return tuple(f"{db.kind} ({db.path})" for db in self._dbs)

    def lookup(self, address: str) -> dict[str, Any]:
        """Whatever the databases know about ``address`` (an empty dict when nothing)."""
        out: dict[str, Any] = {}
        for db in list(self._dbs):
            try:
                record = db.reader.get(address)
            except ValueError:
                return out  # not an IP address, or IPv6 asked of an IPv4-only database
            except db.invalid as exc:
                self.lookup_errors += 1
                self._dbs.remove(db)
                db.close()
                self._warn(f"GeoIP database {db.path} is corrupt ({exc}); no longer used")
                continue
            out.update(asn_fields(record) if db.role == "asn" else geo_fields(record))
        return out

    def close(self) -> None:
        for db in self._dbs:
            db.close()
        self._dbs.clear()


def open_geoip(paths: GeoIPPaths, warn: Warn, dirs: Sequence[Path] | None = None) -> GeoIP | None:
    """Open the databases ``paths`` names or the search finds.

    Returns None when none is usable; each one that cannot be used (missing, unreadable,
    corrupt, of the wrong kind) is reported through ``warn`` as one line. Nothing found
    by searching is not worth a warning: GeoIP is optional.
    """
    city, asn = find_databases(paths, dirs)
    opened: list[_Database] = []
    for path in (city, asn):
        if path is None:
            continue
        try:
            opened.append(_Database(path))
        except FileNotFoundError:
            warn(f"GeoIP database {path} not found; running without it")
        except (_invalid_database(), OSError, ValueError, TypeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            warn(f"GeoIP database {path} is unusable ({why}); running without it")
    if not opened:
        return None
    return GeoIP(opened, warn)
