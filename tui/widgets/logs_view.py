"""The Logs view, on Textual's `Log` (only visible lines are rendered).

Follow/pause, search with highlight (n/N jump), wrap, JSON pretty-print,
timestamps, save to file, a bounded buffer that says how many lines it keeps,
several resources merged with a name prefix. Every line passes `clean()` before
the Log sees it. Lines are never dropped while paused: they are written, the view
just stops scrolling.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from itertools import islice
from pathlib import Path

from rich.cells import chop_cells
from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Log, Static

from tui.core.model import LogLine, iso
from tui.core.own_dir import open_own_dir
from tui.core.sanitize import clean
from tui.messages import ConfirmationRequested, ConfirmRequest, LogLinesReceived, LogStreamEnded
from tui.widgets.cells import Palette


class LogHighlighter(Highlighter):
    """Source prefixes and search matches, styled from the theme."""

    def __init__(self) -> None:
        self.search: re.Pattern[str] | None = None
        self.prefix_len = 0  # 0: no prefixes
        self.match_style = Style(reverse=True, bold=True)
        self.prefix_style = Style(bold=True)

    def highlight(self, text: Text) -> None:
        plain = text.plain
        if self.prefix_len:
            end = plain.find(" │ ")
            if 0 < end <= self.prefix_len + 1:
                text.stylize(self.prefix_style, 0, end)
        if self.search is not None:
            for m in self.search.finditer(plain):
                if m.end() > m.start():
                    text.stylize(self.match_style, m.start(), m.end())


class EnvdeckLog(Log):
    """A Log with our highlighter. Scrolling up (keys or wheel) tells the view to pause
    following, End to follow again: the view, not the Log, decides when to scroll."""

    BINDINGS = [Binding("end", "follow_end", "Follow", show=False)]

    class ScrolledAway(Message):
        """The user scrolled up: stop following, so new lines do not pull the view back."""

    class EndPressed(Message):
        """The user asked for the last line: follow again."""

    def action_follow_end(self) -> None:
        self.post_message(self.EndPressed())

    def _away(self) -> None:
        if self.max_scroll_y > 0:
            self.post_message(self.ScrolledAway())

    def action_scroll_up(self) -> None:
        super().action_scroll_up()
        self._away()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._away()

    def action_scroll_home(self) -> None:
        super().action_scroll_home()
        self._away()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        super()._on_mouse_scroll_up(event)
        self._away()

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        super().__init__(highlight=True, max_lines=max_lines, auto_scroll=True, id=id)
        self.highlighter = LogHighlighter()

    def restyle(self) -> None:
        self.notify_style_update()  # drops the rendered-line cache
        self.refresh()


def render_line(line: LogLine, *, prefix: str, timestamps: bool, pretty_json: bool, wrap: int | None) -> list[str]:
    """One log line as the strings the Log shows (cleaned: no control characters)."""
    head = prefix
    if timestamps and line.at is not None:
        head += (iso(line.at) or "") + " "
    bodies = [line.text]
    if pretty_json:
        stripped = line.text.strip()
        if stripped[:1] in "{[":
            try:
                bodies = json.dumps(json.loads(stripped), indent=2, ensure_ascii=False, sort_keys=False).split("\n")
            except ValueError:
                pass
    out = []
    for i, body in enumerate(bodies):
        # a tab in a log line is layout (stack traces): spaces, not the `^I` clean() shows elsewhere
        text = clean(head if i == 0 else " " * len(head)) + clean(body.rstrip("\r\n").expandtabs(8))
        if wrap and wrap > 10:
            out.extend(chop_cells(text, wrap) or [""])
        else:
            out.append(text)
    return out


class LogsView(Vertical):
    BINDINGS = [
        Binding("f", "toggle_follow", "Follow", id="logs-follow", tooltip="Follow new lines / pause scrolling"),
        Binding("slash", "search", "Search", id="logs-search"),
        Binding("n", "next_match", "Next", id="logs-next", show=False),
        Binding("N", "previous_match", "Prev", id="logs-previous", show=False),
        Binding("w", "toggle_wrap", "Wrap", id="logs-wrap"),
        Binding("J", "toggle_json", "JSON", id="logs-json", tooltip="Pretty-print JSON lines"),
        Binding("t", "toggle_timestamps", "Time", id="logs-timestamps"),
        Binding("ctrl+s", "save", "Save", id="logs-save", tooltip="Save the kept lines to a file"),
        Binding("c", "clear", "Clear", id="logs-clear", show=False),
        Binding("end", "follow_end", "End", id="logs-end", show=False, tooltip="Jump to the last line and follow"),
    ]

    class SearchClosed(Message):
        """The search box closed (Enter or Esc) and the log has the focus again: the keys typed
        after Enter in the same burst (`n n`) may act on the log now (screens/key_hold.py)."""

    def __init__(self, *, buffer_lines: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.buffer_lines = buffer_lines
        self.lines: deque[LogLine] = deque(maxlen=buffer_lines)
        self.received = 0
        self.follow = True
        self.wrap = False
        self.pretty_json = False
        self.timestamps = False
        self.sources: list[str] = []
        self.stream_id = 0
        self.ended: dict[str, str | None] = {}
        self._search_text = ""
        self._matches = 0  # lines of the Log that the search matches

    def compose(self) -> ComposeResult:
        yield Static(id="logs-toolbar", classes="toolbar")
        ended = Static(id="logs-ended")  # why a stream could not start or stopped: the whole reason, wrapped
        ended.display = False
        yield ended
        yield Input(placeholder="search (regular expression)", id="logs-search-input", classes="hidden")
        yield EnvdeckLog(max_lines=self.buffer_lines, id="log")
        yield Static(Text("Select resources and press l to follow their logs (space marks several)."),
                     id="logs-empty", classes="hint")

    @property
    def log_widget(self) -> EnvdeckLog:
        return self.query_one(EnvdeckLog)

    def on_mount(self) -> None:
        app = self.app
        if getattr(getattr(app, "options", None), "testing", False):
            self.query_one("#logs-search-input", Input).cursor_blink = False
        self.restyle(getattr(app, "palette", Palette({})))
        self._update_toolbar()

    def restyle(self, palette: Palette) -> None:
        hl = self.log_widget.highlighter
        assert isinstance(hl, LogHighlighter)
        hl.match_style = palette.style("warning", bold=True) + Style(reverse=True)
        hl.prefix_style = palette.style("accent", bold=True)
        self.log_widget.restyle()

    # -- streams -------------------------------------------------------------
    def start(self, sources: list[str]) -> int:
        """Forget the current lines and sources; returns the new stream id."""
        self.stream_id += 1
        self.sources = list(sources)
        self.lines.clear()
        self.received = 0
        self.ended = {}
        self.follow = True
        self.log_widget.auto_scroll = True
        self.log_widget.clear()
        self.query_one("#logs-empty").display = False
        self.query_one("#logs-ended").display = False
        self._update_prefix()
        self._update_toolbar()
        return self.stream_id

    def _update_prefix(self) -> None:
        hl = self.log_widget.highlighter
        assert isinstance(hl, LogHighlighter)
        hl.prefix_len = self._prefix_width() if self._merged() else 0

    def _recent_sources(self) -> set[str]:
        # The last 200 lines only, without copying the buffer (it may hold millions).
        return {line.source for line in islice(reversed(self.lines), 200)}

    def _merged(self) -> bool:
        return len(self.sources) > 1 or len(self._recent_sources()) > 1

    def _prefix_width(self) -> int:
        names = {clean(s) for s in self.sources} | {clean(s) for s in self._recent_sources()}
        return min(24, max((len(n) for n in names), default=0))

    @on(LogLinesReceived)
    def _received(self, message: LogLinesReceived) -> None:
        message.stop()
        if message.stream_id != self.stream_id:
            return
        was_merged = self._merged()
        self.lines.extend(message.lines)
        self.received += len(message.lines)
        if self._merged() != was_merged:
            self._update_prefix()
            self.rerender()
        else:
            self._write(message.lines)
        self._update_toolbar()

    @on(LogStreamEnded)
    def _stream_ended(self, message: LogStreamEnded) -> None:
        message.stop()
        if message.stream_id != self.stream_id:
            return
        self.ended[message.source] = message.error
        self._show_errors()
        self._update_toolbar()

    @property
    def all_ended(self) -> bool:
        return bool(self.ended) and len(self.ended) >= max(1, len(self.sources))

    def _show_errors(self) -> None:
        """The whole reason of every stream that failed (the toolbar's copy is cut to its line)."""
        palette: Palette = getattr(self.app, "palette", Palette({}))
        failed = [(source, error) for source, error in self.ended.items() if error]
        box = self.query_one("#logs-ended", Static)
        box.display = bool(failed)
        box.update(Text("\n".join(f"{clean(source, max_len=60)}: {clean(error, max_len=600)}"
                                   for source, error in failed), style=palette.style("error"), end=""))

    def write_lines(self, lines: list[LogLine]) -> None:
        """Add lines directly (used by tests and by the demo)."""
        self.post_message(LogLinesReceived(self.stream_id, lines))

    def _wrap_width(self) -> int | None:
        return max(20, self.log_widget.size.width - 2) if self.wrap else None

    def _rendered(self, lines: Iterable[LogLine], wrap: int | None) -> list[str]:
        # Merged or not, and the prefix width, are decided once per batch, not per line.
        width = self._prefix_width() if self._merged() else 0
        out: list[str] = []
        for line in lines:
            prefix = f"{clean(line.source)[:width]:<{width}} │ " if width else ""
            out.extend(render_line(line, prefix=prefix, timestamps=self.timestamps,
                                   pretty_json=self.pretty_json, wrap=wrap))
        return out

    def _write(self, lines: list[LogLine]) -> None:
        out = self._rendered(lines, self._wrap_width())
        log = self.log_widget
        search = self._search()
        if search is not None:
            # Count by difference: the new lines, minus those the Log is about to prune (O(batch)).
            overflow = log.line_count + len(out) - log.max_lines if log.max_lines else 0
            if overflow > 0:
                self._matches -= sum(1 for text in islice(log.lines, min(overflow, log.line_count))
                                     if search.search(text))
            self._matches += sum(1 for text in out if search.search(text))
        log.write_lines(out, scroll_end=False)
        if self.follow:
            self._scroll_to_last()

    def _scroll_to_last(self) -> None:
        # Not Log's own auto-scroll: that only scrolls when the view *was* at the end, and a
        # re-render (wrap, JSON, time) or a horizontal scrollbar coming or going moves the end
        # under it, after which it never followed again. Deferred until after the layout, so
        # the end is measured with the scrollbars the new lines bring.
        self.log_widget.scroll_end(animate=False, immediate=False, x_axis=False)

    def _search(self) -> re.Pattern[str] | None:
        hl = self.log_widget.highlighter
        return hl.search if isinstance(hl, LogHighlighter) else None

    def rerender(self) -> None:
        log = self.log_widget
        log.clear()
        self._matches = 0
        log.max_lines = self.buffer_lines * (4 if (self.pretty_json or self.wrap) else 1)
        self._write(list(self.lines))

    def on_resize(self) -> None:
        if self.wrap:
            self.rerender()

    # -- toolbar -------------------------------------------------------------
    def _update_toolbar(self) -> None:
        palette: Palette = getattr(self.app, "palette", Palette({}))
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        if self.all_ended:  # nothing more will come: not "following"
            failed = any(self.ended.values())
            t.append("failed" if failed else "ended", style=palette.style("error" if failed else "warning",
                                                                          bold=True))
        else:
            t.append("following" if self.follow else "paused", style=palette.style(
                "success" if self.follow else "warning", bold=True))
        if self._search_text:  # first: the toolbar is cut at the right on a narrow terminal
            t.append(f"  /{clean(self._search_text, max_len=20)}", style=palette.style("accent"))
            count = f"{self._matches:,} match{'' if self._matches == 1 else 'es'}" if self._matches else "no match"
            t.append(f" {count}", style=palette.style("accent" if self._matches else "warning", bold=True))
        for label, on_ in (("wrap", self.wrap), ("json", self.pretty_json), ("time", self.timestamps)):
            t.append(f"  {label} {'on' if on_ else 'off'}", style=palette.style("foreground" if on_ else "text-muted"))
        kept = len(self.lines)
        t.append(f"  {kept:,} lines kept" + (f" of {self.received:,}" if self.received > kept else ""),
                 style=palette.style("text-muted"))
        t.append(f" (buffer {self.buffer_lines:,})", style=palette.style("text-muted"))
        if self.sources:
            t.append("  " + ", ".join(clean(s, max_len=30) for s in self.sources[:4])
                     + (f" +{len(self.sources) - 4}" if len(self.sources) > 4 else ""))
        for source, error in self.ended.items():
            t.append(f"  {clean(source, max_len=30)}: " + (clean(error, max_len=80) if error else "ended"),
                     style=palette.style("error" if error else "text-muted"))
        self.query_one("#logs-toolbar", Static).update(t)

    # -- actions -------------------------------------------------------------
    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.log_widget.auto_scroll = self.follow
        if self.follow:
            self._scroll_to_last()
        self._update_toolbar()

    @on(EnvdeckLog.ScrolledAway)
    def _scrolled_away(self, event: EnvdeckLog.ScrolledAway) -> None:
        event.stop()
        if self.follow:
            self.action_toggle_follow()

    @on(EnvdeckLog.EndPressed)
    def _end_pressed(self, event: EnvdeckLog.EndPressed) -> None:
        event.stop()
        self.action_follow_end()

    def action_follow_end(self) -> None:
        """End: the last line, and following again (as `f` would)."""
        if not self.follow:
            self.action_toggle_follow()
        else:
            self._scroll_to_last()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.rerender()
        self._update_toolbar()

    def action_toggle_json(self) -> None:
        self.pretty_json = not self.pretty_json
        self.rerender()
        self._update_toolbar()

    def action_toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self.rerender()
        self._update_toolbar()

    def action_clear(self) -> None:
        self.lines.clear()
        self.log_widget.clear()
        self._matches = 0
        self._update_toolbar()

    def action_search(self) -> None:
        box = self.query_one("#logs-search-input", Input)
        box.remove_class("hidden")
        box.value = self._search_text
        box.focus()

    @on(Input.Changed, "#logs-search-input")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_search(event.value)

    @on(Input.Submitted, "#logs-search-input")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.add_class("hidden")
        self.log_widget.focus()
        if self._search_text:
            self.action_next_match()
        self.post_message(self.SearchClosed())

    def on_key(self, event: events.Key) -> None:
        """Esc in the search box closes the box, and only that: the key goes no further, where the
        screen's `esc Back` would also have left the Logs view (breaker finding, session 12)."""
        if event.key != "escape":
            return
        box = self.query_one("#logs-search-input", Input)
        if box.has_focus:
            event.stop()
            event.prevent_default()
            box.add_class("hidden")
            self.log_widget.focus()
            self.post_message(self.SearchClosed())

    def set_search(self, text: str) -> None:
        self._search_text = text
        hl = self.log_widget.highlighter
        assert isinstance(hl, LogHighlighter)
        if not text:
            hl.search = None
        else:
            try:
                hl.search = re.compile(text, re.IGNORECASE)
            except re.error:
                hl.search = re.compile(re.escape(text), re.IGNORECASE)
        search = hl.search
        self._matches = 0 if search is None else sum(1 for line in self.log_widget.lines if search.search(line))
        self.log_widget.restyle()
        self._update_toolbar()

    def _jump(self, step: int) -> None:
        hl = self.log_widget.highlighter
        if not isinstance(hl, LogHighlighter) or hl.search is None:
            return
        log = self.log_widget
        lines = log.lines
        if not lines:
            return
        if self.follow:
            self.action_toggle_follow()
        start = int(log.scroll_y) + (1 if step > 0 else -1)
        indices = range(start, len(lines)) if step > 0 else range(min(start, len(lines) - 1), -1, -1)
        for y in indices:
            if hl.search.search(lines[y]):
                log.scroll_to(y=y, animate=False)
                return
        self.app.notify("no more matches", timeout=2)

    def action_next_match(self) -> None:
        self._jump(1)

    def action_previous_match(self) -> None:
        self._jump(-1)

    def action_save(self) -> None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.sources[0] if self.sources else "logs")[:60]
        default = str(self.save_dir() / f"envdeck-{name}-{stamp}.log")

        # The kept lines as shown (source, time, JSON) but never as wrapped on this screen.
        lines = self._rendered(self.lines, None)

        def chosen(params: dict[str, str] | None) -> None:
            if params:
                self.app.run_worker(partial(self._save, Path(params["path"]).expanduser(), lines),
                                    thread=True, group="logs-save", exit_on_error=False)

        # A short title (one line of the dialog, never cut mid-word); the folder said whole above the
        # path field, whose box shows the end of a long path (the file's name) only.
        self.post_message(ConfirmationRequested(ConfirmRequest(
            title=f"Save {len(lines):,} lines as shown (unwrapped, escaped)",
            details=[f"into {Path(default).parent}/" + (" (the demo removes it when it ends)"
                                                        if self._removed_on_exit(default) else "")],
            params={"path": default}, confirm_label="Save"), chosen))

    def _removed_on_exit(self, path: str | Path) -> str | None:
        """The directory `envdeck demo` removes when it ends, when `path` is in it (else None)."""
        options = getattr(self.app, "options", None)
        removed = getattr(options, "extra", {}).get(REMOVED_ON_EXIT) if options is not None else None
        if not removed:
            return None
        return str(removed) if Path(path).expanduser().absolute().is_relative_to(Path(removed)) else None

    def save_dir(self) -> Path:
        """Where saved logs go by default: the user's download directory ($XDG_DOWNLOAD_DIR,
        else ~/Downloads) when it exists (the demo's state directory is removed on exit),
        else `logs/` in the state directory (private, like the store: your own real directory,
        never a link or a directory another member of a shared state directory made there,
        tui/core/own_dir.py); never the working directory, which may be shared on a jump host."""
        downloads = download_dir()
        if downloads is not None:
            return downloads
        return self.state_logs_dir()

    def state_logs_dir(self) -> Path:
        state_dir = getattr(self.app, "state_dir", None)
        return (Path(state_dir) if state_dir is not None else Path.cwd()) / "logs"

    def _save(self, path: Path, lines: list[str]) -> None:
        try:
            if path.parent == self.state_logs_dir():  # in a shared state directory: never a member's link
                folder = open_own_dir(path.parent)
                try:
                    write_private(Path(path.name), "\n".join(lines) + "\n", dir_fd=folder)
                finally:
                    os.close(folder)
            else:
                write_private(path, "\n".join(lines) + "\n")
        except OSError as exc:
            self.app.call_from_thread(self.app.notify, f"cannot save: {clean(exc)}", severity="error", markup=False)
            return
        removed = self._removed_on_exit(path)
        note = f" (the demo removes {clean(removed)} when it ends: copy the file elsewhere)" if removed else ""
        self.app.call_from_thread(partial(self.app.notify, f"saved {len(lines):,} lines to {clean(path)}{note}",
                                          markup=False, **({"timeout": 10} if removed else {})))


REMOVED_ON_EXIT = "removed_on_exit"  # AppOptions.extra key: the directory `envdeck demo` removes when it ends


def download_dir() -> Path | None:
    """The user's download directory if it exists: $XDG_DOWNLOAD_DIR, else ~/Downloads."""
    configured = os.environ.get("XDG_DOWNLOAD_DIR", "").strip()
    candidates = [Path(configured).expanduser()] if configured else []
    with contextlib.suppress(RuntimeError):  # no home directory
        candidates.append(Path.home() / "Downloads")
    return next((c for c in candidates if c.is_absolute() and c.is_dir()), None)


def write_private(path: Path, text: str, *, dir_fd: int | None = None) -> None:
    """Create `path` (relative to `dir_fd` when given) readable by its owner only (0600): never
    an existing file, never through a symlink (O_EXCL|O_NOFOLLOW), so another user on the host
    cannot read the logs or redirect them with a planted link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600, dir_fd=dir_fd)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)  # whatever the umask
        fh.write(text)
