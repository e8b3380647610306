"""Audit rows a team member wrote by hand (psql INSERT into the shared store) never break the
trail's read: params that are not a JSON object are flagged with their raw text as data, text
columns are cut by the database (a 5 MB message is not fetched whole), and recovery never marks
another database role's `pending` rows `interrupted` (PostgreSQL: db_user set by the server).

The "member" here is PostgreSQL's superuser connection of tests/postgres_server.py (its rows get
db_user `postgres`, not the store's role `envdeck`); on SQLite a second connection to the file."""

from __future__ import annotations

import json

from tests.helpers import envdeck_inproc as envdeck  # the CLI's main() in this process
from tests.store.hand_rows import audit_args, forge, recorded, repeated
from tui.cli.audit_lines import MESSAGE_SHOWN as CLI_SHOWN
from tui.core.audit_rows import MESSAGE_MAX, PARAMS_RAW_SHOWN, unreadable_note
from tui.widgets.record_views import MESSAGE_SHOWN as TUI_SHOWN


async def test_unreadable_params_are_flagged_and_the_rest_is_read(any_store, request):
    store = await any_store.open()
    try:
        await store.audit_record(user="u", env="prod", target="t", action="good", params={"a": 1},
                                 origin="cli", result="succeeded")
        forge(any_store, request, "'2026-12-07T11:41:00Z','root','prod','x','not-json','not json\x1b[31m','cli','succeeded','m',1")
        forge(any_store, request, "'2026-12-07T11:42:00Z','root','prod','x','a-list','[1,2]','cli','succeeded','m',1")
        forge(any_store, request, "'2026-12-07T11:43:00Z','root','prod','x','deep','" + "[" * 5000 + "]" * 5000
              + "','cli','succeeded','m',1")
        forge(any_store, request, "'2026-12-07T11:44:00Z','root','prod','x','secret','{\"password\":\"hunter2\"','cli',"
              "'succeeded','m',1")
        rows = {r["action"]: r for r in await store.audit_entries("prod")}
        assert rows["good"]["params"] == {"a": 1} and rows["good"]["params_error"] is None
        assert rows["not-json"]["params"] == {} and rows["not-json"]["params_error"] == "not JSON"
        assert rows["not-json"]["params_raw"].startswith("not json")
        assert rows["a-list"]["params_error"] == "not a JSON object (list)"
        assert rows["deep"]["params_error"] == "not JSON" and rows["deep"]["params_raw"].endswith("…")
        assert "hunter2" not in rows["secret"]["params_raw"]  # raw text is redacted like any message
        note = unreadable_note(list(rows.values()))
        assert note is not None and note.startswith("4 audit rows with unreadable params")
    finally:
        await store.close()


async def test_a_huge_message_is_cut_by_the_database(any_store, request):
    store = await any_store.open()
    try:
        forge(any_store, request, "'2026-12-07T11:41:00Z','root','prod','x','big','{}','cli','succeeded',"
              f"{repeated(any_store, 'A', 5_000_000)},1")
        [row] = await store.audit_entries("prod")
        assert len(row["message"]) == MESSAGE_MAX and row["message_cut"] is True
        assert row["message_length"] == 5_000_000
        [short] = await store.audit_entries("prod", message_max=100)
        assert len(short["message"]) == 100 and short["message_length"] == 5_000_000
    finally:
        await store.close()


async def test_recovery_leaves_another_roles_pending_rows_alone(any_store, request):
    """A member's forged `pending` row without an owner (as rows before owners were recorded)
    is not marked interrupted by this process on PostgreSQL; the same row of this process's
    own role still is (and on SQLite, a one-user file, as before)."""
    store = await any_store.open()
    try:
        forge(any_store, request, "'2026-12-07T11:41:00Z','root','prod','x','forged','{}','cli','pending','',NULL")
        if any_store.kind == "postgres":
            forge(any_store, request, "'2026-12-07T11:41:00Z','root','prod','x','own-old','{}','cli','pending','',NULL",
                  as_role="envdeck")
        marked = await store.mark_interrupted()
        results = {r["action"]: (r["result"], r["db_user"]) for r in await store.audit_entries("prod")}
        if any_store.kind == "postgres":
            assert marked == 1
            assert results == {"forged": ("pending", "postgres"), "own-old": ("interrupted", "envdeck")}
        else:
            assert marked == 1 and results == {"forged": ("interrupted", None)}
    finally:
        await store.close()


def strict_json(name: str) -> None:
    raise AssertionError(f"{name} in the output: not JSON")


async def test_envdeck_audit_shows_the_trail_with_the_bad_rows_flagged(any_store, request, tmp_path):
    """`envdeck audit` (text and --json) on a store holding a member's hand-written rows: exit 0,
    one warning line, the unreadable params as data, the bad and the future times marked, a long
    message cut saying how long it was, the db role shown where it differs from the user."""
    await recorded(any_store, "note")
    forge(any_store, request, "'2026-12-07T11:41:00Z','root','dev','x','y','not json','cli','succeeded','m',1")
    forge(any_store, request, "'garbage','root','dev','x','bad-time','{}','cli','succeeded','m',1")
    forge(any_store, request, "'9999-12-31T23:59:59Z','root','dev','x','future','{}','cli','succeeded','m',1")
    # before year 1 once in UTC (it broke the read with an OverflowError), params JSON has no words for
    forge(any_store, request, "'0001-01-01T00:00:00+14:00','root','dev','x','year-0','{}','cli','succeeded','m',1")
    forge(any_store, request, "'2026-12-07T11:41:00Z','root','dev','x','nan','{\"n\": NaN}','cli','succeeded','m',1")
    forge(any_store, request, "'2026-12-07T11:41:00Z','root','dev','x','inf','{\"i\": 1e400}','cli','succeeded','m',1")
    forge(any_store, request, "'2026-12-07T11:41:00Z','root','dev','x','long','{}','cli','succeeded','"
          + "B" * 5000 + "',1")
    for action, cut in (("across-json", MESSAGE_MAX), ("across-text", CLI_SHOWN)):  # redacted, then cut
        forge(any_store, request, f"'2026-12-07T11:41:00Z','root','dev','x','{action}','{{}}','cli','succeeded',"
              + sql_text(across(cut, SECRET_KEY)) + ",1")
    args = audit_args(any_store, tmp_path)
    text = envdeck("audit", *args)
    assert text.returncode == 0, text.stderr
    assert text.stderr.count("warning") == 1 and "3 audit rows with unreadable params" in text.stderr
    lines = {line.split()[6] if len(line.split()) > 6 else "": line for line in text.stdout.splitlines()}
    assert "[params unreadable, not JSON: not json]" in lines["y"]
    assert "[time unreadable]" in lines["bad-time"] and "[time in the future]" in lines["future"]
    assert "[time unreadable]" in lines["year-0"]
    assert "[params unreadable, not JSON: {\"n\": NaN}]" in lines["nan"]
    assert lines["note"].endswith("note dev fine" + (" [db role envdeck]" if any_store.url else ""))
    assert lines["long"].endswith("… (cut: 5000 characters)" + (" [db role postgres]" if any_store.url else ""))
    assert len(lines["long"]) < 500
    if any_store.url:
        assert "[db role postgres]" in lines["y"]
    as_json = envdeck("audit", "--json", *args)
    assert as_json.returncode == 0, as_json.stderr
    rows = {e["action"]: e for e in json.loads(as_json.stdout, parse_constant=strict_json)["entries"]}
    assert rows["nan"]["params_error"] == rows["inf"]["params_error"] == "not JSON"
    assert rows["y"]["params_error"] == "not JSON" and rows["y"]["params_raw"] == "not json"
    assert rows["long"]["message"] == "B" * 5000 and rows["long"]["message_cut"] is False
    assert SECRET_KEY[:10] not in text.stdout + as_json.stdout
    assert rows["across-json"]["message"].endswith("x *** and mo") and rows["across-json"]["message_cut"] is True
    assert lines["across-text"].endswith(f"x *** and mo… (cut: {CLI_SHOWN + 53} characters)"
                                         + (" [db role postgres]" if any_store.url else ""))


SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # an AWS secret key's shape: 40 characters
SECRET_PW = "hunter2-Hunter2-hunter2"


def across(cut: int, secret: str, before: str = " ") -> str:
    """A message whose `secret` starts 10 characters before `cut` (after `before`): cut first,
    then redacted, it would keep those 10 characters, which no pattern recognises alone."""
    return "x" * (cut - 10 - len(before)) + before + secret + " and more text after it"


def sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def test_a_secret_across_the_cut_is_redacted_whole(any_store, request):
    """A hand-written message (or unreadable params) is redacted before it is cut: a 40-character
    secret key, a JSON password and a URL's password that straddle the cut of `audit --json`
    (MESSAGE_MAX), of the TUI's Timeline (its MESSAGE_SHOWN) and of a short read never show a
    piece of themselves."""
    cuts = {"json": MESSAGE_MAX, "tui": TUI_SHOWN, "short": 100}
    store = await any_store.open()
    try:
        written = {}
        for name, cut in cuts.items():
            for kind, secret, before in (("key", SECRET_KEY, " "), ("json", SECRET_PW + '"}', ' {"password": "'),
                                         ("url", SECRET_PW + "@db.internal/app", " postgresql://app:")):
                written[name, kind] = across(cut, secret, before)
                forge(any_store, request, f"'2026-12-07T11:41:00Z','root','{name}','x','{kind}','{{}}','cli',"
                      f"'succeeded',{sql_text(written[name, kind])},1")
        forge(any_store, request, "'2026-12-07T11:41:00Z','root','raw','x','key'," + sql_text(across(
            PARAMS_RAW_SHOWN, SECRET_KEY)) + ",'cli','succeeded','m',1")
        for name, cut in cuts.items():
            rows = {r["action"]: r for r in await store.audit_entries(name, message_max=cut)}
            assert set(rows) == {"key", "json", "url"}
            for kind, row in rows.items():
                assert len(row["message"]) <= cut and row["message_cut"] is True, (name, kind)
                assert row["message_length"] == len(written[name, kind])
                assert SECRET_KEY[:10] not in row["message"] and "hunter2" not in row["message"], (name, kind)
            assert "***" in rows["key"]["message"] and '"password": "***"' in rows["json"]["message"]
        [raw] = await store.audit_entries("raw")
        assert raw["params_error"] == "not JSON" and " *** and mo" in raw["params_raw"] and raw["params_raw"].endswith("…")
        assert SECRET_KEY[:10] not in raw["params_raw"]
    finally:
        await store.close()


async def test_the_change_feed_reads_no_members_text(any_store, request):
    """`ChangeFeed.envs_active_since` (a follower's wake) over a member's hand-written rows: the
    database answers only about the environments asked for, one row each: a 5 MB action, a long
    env name, a name with terminal escapes, never reach the process; a refused action or a log read
    is no change; this process's own row is not another's."""
    from tui.core.change_feed import ChangeFeed
    from tui.core.model import TimelineEntry, now_utc

    store = await any_store.open()
    try:
        own = await store.audit_begin(user="u", env="dev", target="t", action="scale", params={}, origin="tui")
        forge(any_store, request, f"'2026-12-07T11:41:00Z','root','prod','x',{repeated(any_store, 'A', 5_000_000)},"
              "'{}','cli','succeeded','m',1")
        long_env = "'" + "p" * 2000 + "'"  # PostgreSQL's index on env refuses much longer ones
        forge(any_store, request, f"'2026-12-07T11:41:00Z','root',{long_env},'x','scale','{{}}','cli','succeeded','m',1")
        escape = "chr(27)" if any_store.kind == "postgres" else "char(27)"
        forge(any_store, request, f"'2026-12-07T11:41:00Z','root','qa' || {escape} || '[2J','x','scale','{{}}','cli',"
              "'succeeded','m',1")
        forge(any_store, request, "'2026-12-07T11:41:00Z','root','stage','x','logs','{}','cli','succeeded','m',1")
        forge(any_store, request, "'2026-12-07T11:41:00Z','root','qa','x','scale','{}','cli','denied','m',1")
        await store.add_timeline("edge", [TimelineEntry(now_utc(), "edge", "event", "info", "Seen", "m")])
        feed = ChangeFeed(store)
        asked = ["prod", "dev", "stage", "qa", "edge", "absent", "p" * 1000]
        assert await feed.envs_active_since(0, 0, asked) == {"prod": True, "dev": False, "stage": False,
                                                             "qa": False, "edge": False}
        assert await feed.envs_active_since(own, 10**9, asked) == {"prod": True, "stage": False, "qa": False}
        assert await feed.envs_active_since(0, 0, []) == {}
    finally:
        await store.close()


def test_a_limit_that_is_no_number_of_rows_is_refused():
    """On SQLite a negative LIMIT is no limit: every row a member wrote would be read."""
    for limit in ("-5", "0", "x", "99999999999999999999"):
        done = envdeck("audit", "--limit", limit)
        assert done.returncode == 2 and f"argument --limit: {limit!r} is not a number of rows from 1 to 100,000" \
            in done.stderr, done.stderr
