"""``netwatch record``: connections and analyzer events into a store, as a service.

``netwatch record (-i IFACE | -r FILE) --store DIR [--config FILE]``. The engine's
callbacks only enqueue; one writer thread commits (``netwatch.store.StoreWriter``). Logs go
to stderr with a level (under systemd, with the journal's ``<N>`` priority prefix).
SIGTERM/SIGINT stop the capture and write what is queued; SIGHUP re-reads ``--config``
(retention and log level change at once; source, store and filter need a restart).
Exit codes: 0 done, 2 usage, 74 the store could not be written (disk full).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from netwatch.errors import UsageError

EXIT_STORE = 74  # sysexits EX_IOERR
log = logging.getLogger("netwatch.record")

#: Config file keys (TOML) → how they are read; the example is packaging/netwatch-record.toml.
CONFIG_KEYS = (
    "interface",
    "read",
    "store",
    "capture_filter",
    "retain",
    "max_size",
    "attribution",
    "dpi",
    "log_level",
)
#: Keys that apply on SIGHUP without a restart.
RELOADABLE = frozenset({"retain", "max_size", "log_level"})


@dataclass(frozen=True, slots=True)
class RecordConfig:
    interface: str | None = None
    read: str | None = None
    store: str | None = None
    capture_filter: str | None = None
    retain: str | None = None
    max_size: str | None = None
    attribution: str = "auto"
    dpi: bool = True
    log_level: str = "info"


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "record",
        help="record connections and protocol events into a store (a service)",
        description="Record every finished connection and the analyzers' events into a "
        "SQLite store for 'netwatch query', 'top' and 'stats'.",
    )
    common(p)
    from netwatch.metrics.options import add_arguments as add_output_arguments

    add_output_arguments(p)
    p.add_argument("--store", metavar="DIR", help="the store's directory (created if needed)")
    p.add_argument("--config", metavar="FILE", help="TOML configuration, re-read on SIGHUP")
    p.add_argument("--retain", metavar="AGE", help="drop connections older than AGE (7d, 12h)")
    p.add_argument("--max-size", metavar="SIZE", help="keep the store under SIZE (10G, 500M)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="live: stop after SECONDS")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default=None)
    from netwatch.store.packets_options import add_arguments as add_packet_arguments

    add_packet_arguments(p)  # --packets, --dedup, --sample, --adaptive-sample, --rotate
    p.set_defaults(run=run_record)


# ---------------------------------------------------------------- configuration
def load_config(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise UsageError(
            f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(CONFIG_KEYS)})"
        )
    for key, value in data.items():
        want = bool if key == "dpi" else str
        if type(value) is not want:
            kind = "a boolean" if want is bool else "a string"
            raise UsageError(f"{path}: {key} must be {kind}")
    return data


def merge(args: argparse.Namespace, file: dict[str, Any]) -> RecordConfig:
    """The file's settings, overridden by what the command line gives."""
    cfg = RecordConfig(**{k: v for k, v in file.items() if k in CONFIG_KEYS})
    cli = {
        "interface": args.interface,
        "read": args.read,
        "store": args.store,
        "capture_filter": args.capture_filter,
        "retain": args.retain,
        "max_size": args.max_size,
        "log_level": args.log_level,
    }
    if cfg.read and cfg.interface:
        raise UsageError("the configuration names both an interface and a file to read")
    cfg = replace(cfg, **{k: v for k, v in cli.items() if v is not None})
    if args.read:  # the command line's source replaces the file's, whichever kind it is
        cfg = replace(cfg, interface=None)
    elif args.interface:
        cfg = replace(cfg, read=None)
    if args.attribution != "auto":
        cfg = replace(cfg, attribution=args.attribution)
    if args.no_dpi:
        cfg = replace(cfg, dpi=False)
    return cfg


def retention_of(cfg: RecordConfig) -> Any:
    from netwatch.store import Retention, parse_age, parse_size

    return Retention(
        max_age=parse_age(cfg.retain) if cfg.retain else None,
        max_bytes=parse_size(cfg.max_size) if cfg.max_size else None,
    )


# ---------------------------------------------------------------- logging
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class _JournalFormatter(logging.Formatter):
    """``<6>message``: systemd reads the priority from the prefix (SyslogLevelPrefix)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITY.get(record.levelno, 6)}>{record.getMessage()}"


def setup_logging(level: str) -> None:
    logger = logging.getLogger("netwatch")
    if not any(getattr(h, "_netwatch", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        if os.environ.get("JOURNAL_STREAM"):
            handler.setFormatter(_JournalFormatter())
        else:
            handler.setFormatter(logging.Formatter("netwatch record: %(levelname)s: %(message)s"))
        handler._netwatch = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper())


# ---------------------------------------------------------------- stopping
class _Stoppable:
    """The packet source, ended between two batches when ``stop`` is set.

    A file source is not closed from another thread (its reader would fail mid-read);
    a live one also gets ``close()``, which is how it is woken."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.description: str = inner.description
        self.live: bool = inner.live
        self.stop = threading.Event()

    def batches(self) -> Iterator[Sequence[Any]]:
        for batch in self.inner.batches():
            yield batch
            if self.stop.is_set():
                return

    def stats(self) -> Any:
        return self.inner.stats()

    def close(self) -> None:
        self.inner.close()

    def request_stop(self) -> None:
        self.stop.set()
        if self.live:
            self.inner.close()


# ---------------------------------------------------------------- the command
def run_record(args: argparse.Namespace) -> int:
    from netwatch.capture.open import open_file, open_live
    from netwatch.commands.common import local_addresses, make_enrichment, make_resolver
    from netwatch.engine import Engine, EngineConfig
    from netwatch.errors import TruncatedCaptureError
    from netwatch.store import StoreWriter

    cfg = merge(args, load_config(args.config))
    setup_logging(cfg.log_level)
    if not cfg.store:
        raise UsageError("record needs --store DIR (or 'store' in --config)")
    if cfg.read and args.duration is not None:
        raise UsageError("--duration applies to live capture (-i), not to -r FILE")
    retention = retention_of(cfg)
    raw = open_file(cfg.read) if cfg.read else open_live(cfg.interface, cfg.capture_filter)
    source = _Stoppable(raw)
    failure: list[str] = []

    def on_error(msg: str) -> None:
        failure.append(msg)
        source.request_stop()

    try:
        writer = StoreWriter(
            cfg.store,
            source=raw.description,
            retention=retention,
            on_error=on_error,
            block=not raw.live,
        )
    except BaseException:
        raw.close()
        raise
    from netwatch.store.packets_record import packet_recording

    packets = packet_recording(args, cfg.store, writer, on_error, live=raw.live)
    from netwatch.metrics import Outputs, StoreFiles

    outputs = Outputs.open(args.metrics, args.ipfix, recorder=StoreFiles(writer, cfg.store))
    engine = Engine(
        source,
        resolver=make_resolver(cfg.attribution) if raw.live else None,
        config=EngineConfig(dpi=cfg.dpi),
        on_finish=outputs.on_finish(writer.put_connection),
        on_snapshot=outputs.on_snapshot,
        local_addresses=local_addresses if raw.live else None,
        enrich=make_enrichment(args, raw.live),
        packet_sink=packets.sink if packets else None,
        batch_filter=packets.batch_filter if packets else None,
        # The row's id only: a whole view per event (on_event) cost 10% of the recording's
        # CPU on the mixed benchmark, and the store needs only the id.
        on_event_id=writer.put_event_of,
    )
    previous = _install_signals(source, writer, args, cfg)
    timer = None
    if raw.live and args.duration:
        timer = threading.Timer(args.duration, source.request_stop)
        timer.daemon = True
        timer.start()
    log.info("recording %s into %s (run %d)", raw.description, cfg.store, writer.run)
    status = 0
    writer.start()
    if packets:
        packets.start()
    try:
        engine.run()
    except TruncatedCaptureError as exc:
        log.error("%s", exc)
        status = 2
    finally:
        if timer is not None:
            timer.cancel()
        source.close()
        if packets:
            packets.close()
        writer.close()
        outputs.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    st = writer.stats()
    if failure or writer.error:
        msg = writer.error or failure[0]
        if os.environ.get("JOURNAL_STREAM"):
            log.error("%s", msg)  # with its priority, for journalctl -p err
        else:
            print(f"netwatch: error: {msg}", file=sys.stderr)
        return EXIT_STORE
    log.info(
        "stored %d connections and %d events (%d dropped)", st.connections, st.events, st.dropped
    )
    if packets:
        log.info("%s", packets.report())
    return status


def _install_signals(
    source: _Stoppable, writer: Any, args: argparse.Namespace, cfg: RecordConfig
) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    current = [cfg]

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping, writing what is queued", signum)
        source.request_stop()

    def reload(signum: int, frame: FrameType | None) -> None:
        try:
            new = merge(args, load_config(args.config))
            retention = retention_of(new)
        except UsageError as exc:
            log.error("configuration not reloaded: %s", exc)
            return
        old = current[0]
        for key in CONFIG_KEYS:
            if key not in RELOADABLE and getattr(old, key) != getattr(new, key):
                log.warning("%s changed: takes effect at the next start", key)
        writer.retention = retention
        setup_logging(new.log_level)
        current[0] = new
        log.info("configuration reloaded (retain=%s, max_size=%s)", new.retain, new.max_size)

    previous: dict[int, Any] = {}
    for sig, handler in ((signal.SIGTERM, stop), (signal.SIGINT, stop), (signal.SIGHUP, reload)):
        previous[sig] = signal.signal(sig, handler)
    return previous
