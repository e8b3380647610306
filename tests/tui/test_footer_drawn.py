"""The footer draws its keys as one line (tui/widgets/steady_footer.py): the first frame of an
environment screen built on the switch shows them (they came a frame later, after a layout of their
own), that frame is the only full-screen one, and the keys still act as Textual's FooterKey widgets
did: a click presses the key, a disabled key rings the bell, the hovered key is highlighted and
shows its tooltip."""

from __future__ import annotations

from textual._compositor import LayoutUpdate
from textual.app import App
from textual.binding import Binding
from textual.widgets import Static

from screens.environment import EnvironmentScreen
from tests.tui.pilot import app_ready, drawn_keys, make_app, settle, wait_until
from tui.widgets.resource_table import ResourceTable
from tui.widgets.steady_footer import SteadyFooter


async def test_the_first_frame_of_a_screen_built_on_the_switch_shows_the_footer_keys(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    app.options.build_ahead = False
    async with app.run_test(size=(120, 24)) as pilot:
        await app_ready(pilot)
        frames: list[tuple[bool, bool, tuple]] = []  # (full screen, prod's table filled, keys drawn)
        display = app._display

        def seen(screen, update) -> None:
            display(screen, update)
            if update is None or not isinstance(app.screen, EnvironmentScreen) or app.screen.env != "prod":
                return
            footer = app.screen.query(SteadyFooter).first(SteadyFooter)
            tables = app.screen.query(ResourceTable)
            filled = bool(tables) and tables.first().row_count > 0
            frames.append((isinstance(update, LayoutUpdate), filled,
                           tuple(k.key for k in footer.drawn) if not footer.settling else ()))

        app._display = seen
        await pilot.press("colon", *"prod", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.env == "prod"
                         and app.screen.ready, "prod")
        await settle(pilot)
        app._display = display
        first = next(f for f in frames if f[1])
        assert first == frames[0], frames  # the table is filled in the screen's first frame
        assert first[0], "the first frame draws the whole screen"
        assert {"q", "question_mark", "colon", "ctrl+p"} <= set(first[2]), first
        assert [f[0] for f in frames].count(True) == 1, f"one full-screen frame, not {frames}"
        assert first[2] == tuple(k.key for k in drawn_keys(app.screen)), "the keys the screen settled on"


class Keys(App):
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("s", "say", "Say", tooltip="says hello"),
                Binding("x", "never", "Never"),
                Binding("ctrl+p", "command_palette", "palette", id="command-palette", show=False)]
    said = 0
    rings = 0

    def compose(self):
        yield Static("body")
        yield SteadyFooter(compact=True)

    def check_action(self, action: str, parameters) -> bool | None:
        return None if action == "never" else True  # None: shown, dimmed (disabled)

    def action_say(self) -> None:
        self.said += 1

    def action_never(self) -> None:
        raise AssertionError("a disabled key ran")

    def bell(self) -> None:
        self.rings += 1


async def test_footer_keys_act_as_footer_key_widgets_did():
    app = Keys()
    async with app.run_test(size=(60, 4)) as pilot:
        await settle(pilot)
        footer = app.query_one(SteadyFooter)
        keys = {k.key: k for k in footer.drawn}
        assert ["q", "s", "x", "ctrl+p"] == [k.key for k in footer.drawn]
        assert keys["x"].disabled and not keys["s"].disabled
        assert keys["ctrl+p"].palette and keys["ctrl+p"].region.right == 60, keys["ctrl+p"].region

        await pilot.click(SteadyFooter, offset=(keys["s"].x + 1, 0))
        await wait_until(pilot, lambda: app.said == 1, "s pressed by its click")
        await pilot.click(SteadyFooter, offset=(keys["x"].x, 0))
        await wait_until(pilot, lambda: app.rings == 1, "the bell for a disabled key")

        plain = footer.render_line(0)
        await pilot.hover(SteadyFooter, offset=(keys["s"].x, 0))
        await wait_until(pilot, lambda: footer.tooltip == "says hello", "the key's tooltip")
        await pilot.pause()
        assert footer.render_line(0) != plain, "the hovered key is highlighted"
        await pilot.hover(Static)
        await wait_until(pilot, lambda: footer.tooltip is None, "no tooltip once the mouse left")


async def test_keys_that_do_not_fit_leave_the_rightmost_first_and_quit_help_command_stay():
    app = Keys()
    async with app.run_test(size=(22, 4)) as pilot:
        await settle(pilot)
        footer = app.query_one(SteadyFooter)
        palette = footer.drawn[-1]
        assert palette.palette and palette.region.right == 22
        text = footer.render_line(0).text
        assert text == "q Quit    ▏^p palette ", repr(text)  # `s Say` and `x Never` left, still bound
        await pilot.click(SteadyFooter, offset=(8, 0))  # where no key is drawn: nothing pressed
        await pilot.pause()
        assert app.said == 0 and app.rings == 0
        await pilot.resize_terminal(11, 4)  # no room for the palette's key: no key drawn, none clickable
        await settle(pilot)
        assert footer.render_line(0).text.strip() == "q Quit"[:11].strip() or not footer.render_line(0).text.strip()
        await pilot.click(SteadyFooter, offset=(9, 0))
        await pilot.pause()
        assert app.said == 0 and app.rings == 0


async def test_a_keymap_that_moves_the_palette_keeps_its_key_docked_right():
    app = Keys()
    app.set_keymap({"command-palette": "ctrl+k"})
    async with app.run_test(size=(60, 4)) as pilot:
        await settle(pilot)
        footer = app.query_one(SteadyFooter)
        assert footer.drawn[-1].palette and footer.drawn[-1].key == "ctrl+k", footer.drawn
        assert "^k palette" in footer.render_line(0).text


def _whole(screen) -> list[str]:
    """What is wrong with the footer's keys as drawn: a key cut under the palette's key, or one of
    `q Quit ? Help : Command` missing."""
    keys = drawn_keys(screen)
    palette = next((k for k in keys if k.palette), None)
    right = palette.region.x if palette is not None else screen.size.width
    wrong = [f"{k.key} {k.description} cut" for k in keys if not k.palette and k.region.right > right]
    shown = {k.action for k in keys}
    return wrong + [f"{a} missing" for a in ("quit", "help", "command_line") if a not in shown]


async def test_every_row_keeps_resume_quit_help_and_command_whole_at_80_and_60_columns(tmp_path, stage):
    """On-call finding, session 12: with repairs paused, `p Resume` left the footer on rows with
    several action keys (an ECS service with drift: `l Logs r Restart R Repair`), at 60 columns
    `? Help` was cut and `: Command` hidden, and the Logs view hid `: Command` at 80. The footer now
    leaves out other keys, rightmost first."""
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        await app.session.set_paused("staging", True)
        screen = app.screen
        table = screen.query_one(ResourceTable)
        for size in ((80, 24), (60, 20)):
            await pilot.resize_terminal(*size)
            await wait_until(pilot, lambda s=size: screen.size.width == s[0], f"{size}")
            await pilot.press("g", "g")
            for row in range(table.row_count):
                await settle(pilot)
                where = (size, row, screen.selected_id())
                assert not _whole(screen), (where, _whole(screen), [k.key for k in drawn_keys(screen)])
                assert ("p", "Resume") in [(k.key, k.description) for k in drawn_keys(screen)], where
                await pilot.press("j")
        # at 40 columns the three stay whole; `p Resume` leaves before them
        await pilot.resize_terminal(40, 12)
        await wait_until(pilot, lambda: screen.size.width == 40, "40x12")
        await settle(pilot)
        assert not _whole(screen), (_whole(screen), [k.key for k in drawn_keys(screen)])
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: screen.size.width == 80, "80x24")
        # the Logs view of a Deployment that can restart and has drift: its own keys and r R beside them
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Deployment/api"), "the api Deployment")
        await pilot.press("l")
        await wait_until(pilot, lambda: screen.active_view == "logs", "the Logs view")
        for size in ((80, 24), (60, 20)):
            await pilot.resize_terminal(*size)
            await wait_until(pilot, lambda s=size: screen.size.width == s[0], f"{size}")
            await settle(pilot)
            assert not _whole(screen), (size, _whole(screen), [k.key for k in drawn_keys(screen)])


async def test_slash_filter_is_not_offered_while_the_filter_box_types_it(tmp_path, stage):
    """Breaker finding, session 12: with the filter box open the footer offered `/ Filter`, and `/`
    typed a `/` into the box."""
    from textual.widgets import Input

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        await settle(pilot)
        assert "slash" in [k.key for k in drawn_keys(app.screen)]
        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(app.focused, Input), "the filter box")
        await settle(pilot)
        keys = [k.key for k in drawn_keys(app.screen)]
        assert "slash" not in keys and "escape" in keys, keys


async def test_the_footer_reads_the_same_keys_while_the_terminal_has_not_the_focus(tmp_path, stage):
    """On-call finding, session 12: with the terminal's focus gone (tmux focus-events) the overview's
    footer showed the screen's keys without the table's (`⏎ Open` in place of the row's keys):
    Textual takes the focus away meanwhile."""
    from textual import events

    app = make_app(tmp_path, stage)
    async with app.run_test(size=(100, 24)) as pilot:
        await app_ready(pilot)
        await settle(pilot)
        focused = [(k.key, k.description) for k in drawn_keys(app.screen)]
        app.post_message(events.AppBlur())
        await wait_until(pilot, lambda: not app.app_focus and app.screen.focused is None, "the terminal's focus gone")
        app.screen.refresh_bindings()
        await settle(pilot)
        assert [(k.key, k.description) for k in drawn_keys(app.screen)] == focused
