"""A screen built on the switch is laid out once for what its mount asked (screens/settled_layout.py):
what it shows then is what a full layout of it shows, the table of more rows than the terminal
has lines has its vertical scrollbar from that first layout, and the requests answered by that
layout were dropped (no second full layout: the footer's keys are drawn by the footer itself)."""

from __future__ import annotations

from screens.environment import EnvironmentScreen
from tests.tui.pilot import app_ready, make_app, settle, wait_until
from tui.widgets.resource_table import ResourceTable

SIZE = (120, 8)  # fewer lines than prod has resources


def geometry(screen) -> dict[str, tuple]:
    return {repr(w): tuple(screen.find_widget(w).region) for w in screen.walk_children() if w.display
            and w in screen._compositor.visible_widgets}


async def test_first_layout_of_a_screen_built_on_the_switch_is_the_full_layouts(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    app.options.build_ahead = False
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        layouts: list[str] = []
        refresh_layout = EnvironmentScreen._refresh_layout

        def counted(screen, size=None, scroll=False):
            if not scroll and screen.env == "prod":
                layouts.append("settled" if screen._settle_layout else "full")
            refresh_layout(screen, size, scroll)

        EnvironmentScreen._refresh_layout = counted
        try:
            await pilot.press("colon", *"prod", "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.env == "prod"
                             and app.screen.ready and app.screen.query_one(ResourceTable).row_count > 0, "prod")
            await settle(pilot)
        finally:
            EnvironmentScreen._refresh_layout = refresh_layout
        screen = app.screen
        table = screen.query_one(ResourceTable)
        assert table.row_count + 1 > SIZE[1]
        assert table.show_vertical_scrollbar and table.vertical_scrollbar.display
        assert layouts[0] == "settled" and screen._settled_at > float("-inf")
        # the mount's requests were answered, and the footer's keys are drawn, not mounted: no second layout
        assert layouts.count("full") == 0, layouts
        shown, where = app.export_screenshot(), geometry(screen)
        screen._refresh_layout(app.size)  # a full layout, as Textual's second one was
        await settle(pilot)
        assert geometry(screen) == where
        assert app.export_screenshot() == shown
