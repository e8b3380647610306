"""Keys users remap, help, console links, the shell hand-over, user themes."""

from __future__ import annotations

from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from tests.tui.pilot import app_ready, make_app, wait_for_audit, wait_until
from tests.tui.stage import STAGE_CONFIG
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.resource_table import ResourceTable

SIZE = (120, 36)


async def select(pilot, resource_id: str) -> None:
    table = pilot.app.screen.query_one(ResourceTable)
    await wait_until(pilot, lambda: table.move_to_key(resource_id), resource_id)


async def test_help_lists_every_binding_of_the_screen_with_its_id(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        keys = app.screen.query_one(KeyedTable).row_keys
        ids = {k.split(":", 1)[0] for k in keys}
        for wanted in ("filter", "back", "logs", "shell", "restart", "scale", "open-console", "yaml", "drift-diff",
                       "repair", "pause", "mark", "delete", "quit", "help", "command-line", "command-palette"):
            assert wanted in ids, wanted
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")


def test_every_binding_has_an_id():
    from textual.binding import Binding

    from tui.app import EnvdeckApp, keymap_classes, known_binding_ids

    classes = keymap_classes()
    assert EnvdeckApp in classes and ConfirmScreen in classes and KeyedTable in classes
    for cls in classes:
        for b in cls.BINDINGS:
            assert isinstance(b, Binding) and b.id, f"{cls.__name__}: {b}"
    assert {"restart", "logs", "filter", "repair", "stop", "start", "describe", "cursor-down", "cursor-top-gg",
            "cursor-bottom"} <= known_binding_ids()


async def test_keymap_remaps_by_binding_id(tmp_path, stage):
    config = STAGE_CONFIG + "ui:\n  keymap: {restart: ctrl+r, no-such-binding: x}\n"
    app = make_app(tmp_path, stage, env="staging", config_text=config)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        assert any("no-such-binding" in n.message for n in app._notifications)
        await select(pilot, "kubernetes/Deployment/web")
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)  # r no longer restarts
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the restart confirmation")


async def test_a_remap_onto_another_bindings_key_says_which_it_takes(tmp_path, stage):
    """Breaker finding, session 12: `restart: l` hid `l Logs` without a word."""
    config = STAGE_CONFIG + "ui:\n  keymap: {restart: l}\n"
    app = make_app(tmp_path, stage, env="staging", config_text=config)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        said = [n.message for n in app._notifications]
        assert any("restart on l takes the key of logs (Logs) in EnvironmentScreen" in m for m in said), said


async def test_open_console_copies_the_link(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "aws/ec2-instance/i-0abc123")
        await pilot.press("o")
        await wait_until(pilot, lambda: app.clipboard.startswith("https://console.aws.amazon.com/ec2/"), "clipboard")
        assert any("Copied" in (n.title or "") for n in app._notifications)


async def test_shell_without_a_terminal_to_hand_over_copies_the_command(tmp_path, stage):
    """Headless (like textual-serve), the app cannot be suspended: the command is copied instead."""
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await pilot.press("s")
        await wait_until(pilot, lambda: app.clipboard.startswith("kubectl exec"), "the copied command")
        assert app.clipboard == "kubectl exec -it -n staging web-7d9f-abcde -- sh"
        rows = await wait_for_audit(pilot, "shell")
        assert rows[0]["result"] == "succeeded" and rows[0]["target"] == "kubernetes/Pod/web-7d9f-abcde"


async def test_user_themes_from_yaml(tmp_path, stage, isolated_home):
    themes = isolated_home / ".config" / "envdeck" / "themes"
    themes.mkdir(parents=True)
    (themes / "night.yaml").write_text("name: night-shift\nprimary: '#ff8800'\nbackground: '#000000'\ndark: true\n")
    (themes / "broken.yaml").write_text("name: broken\nprimary: not-a-colour\n")
    config = STAGE_CONFIG + "ui: {theme: night-shift}\n"
    app = make_app(tmp_path, stage, env="staging", config_text=config)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        assert app.theme == "night-shift"
        assert any("broken.yaml" in n.message for n in app._notifications)
        assert app.get_theme("broken") is None
        await pilot.press("colon", *"theme high-contrast", "enter")
        await wait_until(pilot, lambda: app.theme == "envdeck-high-contrast", "the high-contrast theme")
