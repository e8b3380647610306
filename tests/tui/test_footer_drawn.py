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
                Binding("x", "never", "Never")]
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


async def test_keys_past_the_width_go_under_the_palette_key():
    app = Keys()
    async with app.run_test(size=(22, 4)) as pilot:
        await settle(pilot)
        footer = app.query_one(SteadyFooter)
        palette = footer.drawn[-1]
        assert palette.palette and palette.region.right == 22
        text = footer.render_line(0).text
        assert len(text) == 22 and text.endswith("▏^p palette "), repr(text)
        assert text.startswith("q Quit s"), repr(text)  # the rest is under the palette's key
