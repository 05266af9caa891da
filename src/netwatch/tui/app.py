"""The Textual application: a snapshot worker, the key actions, and nothing else.

A thread worker blocks in ``monitor.wait_next`` and hands each new snapshot to the UI
thread. Bursts are coalesced twice: the worker keeps only the newest snapshot in a slot
and posts a message only when the slot was empty, and :class:`SnapshotReady` can replace
a queued one. Frames are applied at most ``config.refresh_rate`` times per second.
"""

from __future__ import annotations

import threading
import time
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import get_current_worker

from netwatch.model.monitor import MonitorHandle
from netwatch.model.snapshot import Snapshot
from netwatch.tui import keys
from netwatch.tui.clipboard import copy_text
from netwatch.tui.config import TuiConfig
from netwatch.tui.filtering import filter_help
from netwatch.tui.views.main import MainScreen
from netwatch.tui.views.modals import ConfirmScreen, HelpScreen

FILTER_HELP = (
    "Filter (/): the table narrows as you type; Esc leaves the box, r resets.\n"
    "Plain words search every column; keywords narrow, e.g. port:443, process:firefox,\n"
    "proto:quic and not dst:10.0.0.0/8. An invalid expression is shown in the status bar\n"
    "and the last good filter stays."
)


class SnapshotReady(Message):
    """The worker has a new snapshot in the app's slot."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


class WorkerFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class NetwatchApp(App[int]):
    TITLE = "netwatch"
    BINDINGS: ClassVar[list[BindingType]] = list(keys.bindings())

    def __init__(self, monitor: MonitorHandle, config: TuiConfig) -> None:
        super().__init__()
        self.monitor = monitor
        self.config = config
        self.theme = "textual-light" if config.theme == "light" else "textual-dark"
        self._slot: Snapshot | None = None
        self._slot_lock = threading.Lock()
        self._quitting = False
        self.osc52_writer = self._write_osc52

        self.main = MainScreen(config)

    def get_default_screen(self) -> Screen[None]:
        return self.main

    def on_mount(self) -> None:
        self.watch_snapshots(-1)

    # ---- the snapshot worker -------------------------------------------------------
    @work(thread=True, exclusive=True, group="snapshots")
    def watch_snapshots(self, after_seq: int) -> None:
        worker = get_current_worker()
        interval = self.config.min_interval
        seq = after_seq
        while not worker.is_cancelled:
            try:
                snap = self.monitor.wait_next(seq, timeout=0.25)
            except Exception as exc:  # noqa: BLE001  (any engine failure is shown, not a crash)
                self.post_message(WorkerFailed(f"{type(exc).__name__}: {exc}"))
                return
            if snap is None:
                continue
            seq = snap.seq
            with self._slot_lock:
                empty = self._slot is None
                self._slot = snap
            if empty:
                self.post_message(SnapshotReady())
            started = time.monotonic()
            while not worker.is_cancelled and time.monotonic() - started < interval:
                time.sleep(min(0.05, interval))

    def on_snapshot_ready(self, _message: SnapshotReady) -> None:
        with self._slot_lock:
            snap, self._slot = self._slot, None
        if snap is None:
            return
        if not self.main.is_mounted:  # a frame that beat the first layout: retry after it
            with self._slot_lock:
                self._slot = self._slot or snap
            self.call_after_refresh(self.post_message, SnapshotReady())
            return
        self.main.apply_snapshot(snap)

    def on_worker_failed(self, message: WorkerFailed) -> None:
        self.main.error = message.error
        self.main.update_status()

    # ---- actions (bound in keys.KEYMAP) ------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Under a dialog or the help only the quit keys act; the rest wait for the table."""
        if action in ("ask_quit", "force_quit", "help"):
            return True
        return self.screen is self.main

    def action_ask_quit(self) -> None:
        if self._quitting:  # q again before the dialog took the keyboard: that is a yes
            self.exit(0)
            return
        self._quitting = True

        def answered(yes: bool | None) -> None:
            self._quitting = False
            if yes:
                self.exit(0)

        self.push_screen(ConfirmScreen("Quit netwatch?", again="q"), answered)

    def action_force_quit(self) -> None:
        self.exit(0)

    def action_next_view(self) -> None:
        if self.screen is self.main:
            self.main.cycle_view(1)

    def action_prev_view(self) -> None:
        if self.screen is self.main:
            self.main.cycle_view(-1)

    def action_view(self, name: str) -> None:
        self.main.set_view(name)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(
                HelpScreen(keys.help_rows(self.config.keys), FILTER_HELP, filter_help())
            )

    def action_go_back(self) -> None:
        main = self.main
        if self.screen is not main:
            return
        if isinstance(self.focused, Input):
            main.leave_filter()
        elif main.active != "overview":
            main.set_view("overview")
        elif main.filter.text:
            main.filter_input.value = ""
            main.leave_filter()

    def action_filter(self) -> None:
        self.main.enter_filter()

    def action_sort_next(self) -> None:
        self.main.sort_next()

    def action_sort_reverse(self) -> None:
        self.main.sort_reverse()

    def action_toggle_ports(self) -> None:
        m = self.main
        t = m.state.toggles
        m.change_state(toggles=type(t)(port_names=not t.port_names, hostnames=t.hostnames))
        m.notify_status("service names" if not t.port_names else "port numbers")

    def action_toggle_names(self) -> None:
        m = self.main
        t = m.state.toggles
        m.change_state(toggles=type(t)(port_names=t.port_names, hostnames=not t.hostnames))
        m.notify_status("host names" if not t.hostnames else "IP addresses")

    def action_group(self) -> None:
        m = self.main
        m.change_state(group_by_process=not m.state.group_by_process)

    def action_toggle_closed(self) -> None:
        m = self.main
        m.change_state(show_closed=not m.state.show_closed)

    def action_clear_closed(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.monitor.clear_closed()
                self.main.notify_status("closed connections cleared")

        self.push_screen(ConfirmScreen("Forget all closed connections?"), answered)

    def action_pause(self) -> None:
        m = self.main
        m.toggle_pause()
        try:
            self.monitor.set_paused(m.paused)
        except NotImplementedError:
            pass

    def action_reset(self) -> None:
        self.main.reset_view()

    def action_copy(self) -> None:
        text = self.main.copy_target()
        if not text:
            self.main.notify_status("nothing to copy", "yellow")
            return
        how = copy_text(text, self.osc52_writer)
        where = {
            "clipboard": "to the clipboard",
            "osc52": "via the terminal (OSC 52)",
            "none": "nowhere: no clipboard and no terminal",
        }[how]
        message = f"copied {text} {where}"
        self.main.notify_status(message, "green" if how != "none" else "red")
        self.notify(message, severity="information" if how != "none" else "error", timeout=3)

    def action_cursor_down(self) -> None:
        self.main.move_cursor("cursor_down")

    def action_cursor_up(self) -> None:
        self.main.move_cursor("cursor_up")

    def action_page_down(self) -> None:
        self.main.move_cursor("page_down")

    def action_page_up(self) -> None:
        self.main.move_cursor("page_up")

    def _write_osc52(self, sequence: str) -> None:
        driver = self._driver
        if driver is not None:
            driver.write(sequence)
            driver.flush()
