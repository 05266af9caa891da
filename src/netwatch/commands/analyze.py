"""``netwatch analyze``: one record per connection, from a file or a live interface."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

from netwatch.capture.open import open_file, open_live
from netwatch.commands.common import local_addresses, make_enrichment, make_resolver
from netwatch.engine import Engine, EngineConfig
from netwatch.errors import OutputError, TruncatedCaptureError, UsageError
from netwatch.metrics import Outputs
from netwatch.model.snapshot import ConnectionView
from netwatch.output import RecordWriter, open_writer


def run_analyze(args: argparse.Namespace) -> int:
    if args.read:
        if args.duration is not None:
            raise UsageError("--duration applies to live capture (-i), not to -r FILE")
        source = open_file(args.read)
    else:
        source = open_live(args.interface, args.capture_filter)
    writer, out = _writer(args)

    def emit(v: ConnectionView) -> None:
        # (``_writing()`` written out: a context manager per record would cost more)
        try:
            writer.write(v.to_record())
        except BrokenPipeError:
            raise
        except OSError as exc:  # (not the capture's: it is read elsewhere)
            raise OutputError(exc) from None

    outputs = Outputs.open(args.metrics, args.ipfix)
    engine = Engine(
        source,
        resolver=make_resolver(args.attribution) if source.live else None,
        config=EngineConfig(dpi=not args.no_dpi, max_connections=args.max_connections),
        on_finish=outputs.on_finish(emit),
        local_addresses=local_addresses if source.live else None,
        enrich=make_enrichment(args, source.live),
        on_snapshot=outputs.on_snapshot,
    )
    progress = _progress(args, source.live)
    timer = None
    if source.live and args.duration:
        timer = threading.Timer(args.duration, source.close)
        timer.daemon = True
        timer.start()
    status = 0
    try:
        with progress as bar:
            engine.run(progress=bar)
    except TruncatedCaptureError as exc:
        writer.close()
        print(f"netwatch: error: {exc}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        # Live: Ctrl+C ends the capture; still print what was seen.
        engine.tracker.finish_all()
    finally:
        if timer is not None:
            timer.cancel()
        source.close()
        outputs.close()
    with _writing():
        if status == 0:
            writer.close()
        if out is not None and out is not sys.stdout:
            out.close()
    malformed = getattr(writer, "malformed", 0)
    if malformed:
        print(f"netwatch: warning: {malformed} records could not be exported", file=sys.stderr)
    return status


def _writer(args: argparse.Namespace) -> tuple[RecordWriter, TextIO | None]:
    """The output for ``--format``: a record stream, EVE JSON, or a directory of Zeek logs."""
    if args.format in ("zeek", "zeek-json"):
        from netwatch.export import ZeekWriter  # (the exporters only when asked for: ~30 ms)

        if not args.output:
            raise UsageError(f"--format {args.format} needs -o DIR (the directory for the logs)")
        try:
            return ZeekWriter(args.output, json=args.format == "zeek-json"), None
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write logs there ({exc.strerror})") from None
    out: TextIO = sys.stdout
    if args.output:
        try:
            out = open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write ({exc.strerror})") from None
    with _writing():  # (a writer may write its header at once)
        if args.format == "eve":
            from netwatch.export import EveWriter

            return EveWriter(out), out
        return open_writer(args.format, out), out


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """An output that cannot be written (full disk, I/O error) is the user's one-line
    error; a reader that left (``| head``) stays the quiet BrokenPipeError."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(exc) from None


ProgressFn = Callable[[int, int | None], None]


class _NoProgress:
    def __enter__(self) -> ProgressFn | None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _progress(
    args: argparse.Namespace, live: bool
) -> contextlib.AbstractContextManager[ProgressFn | None]:
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    if live or not show:
        return _NoProgress()
    return _Bar()


class _Bar:
    """A progress bar on stderr for long files (rich, only when asked or on a terminal)."""

    def __enter__(self) -> ProgressFn | None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        self._p = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._p.__enter__()
        self._task = self._p.add_task("reading", total=None)
        return self.update

    def update(self, done: int, total: int | None) -> None:
        self._p.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        self._p.__exit__(None, None, None)
