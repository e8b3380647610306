"""The agent's log formatters and the metrics exposition, in process: secrets redacted in
the message, the context and the traceback; terminal escapes never reach the text form;
label values escaped as the Prometheus text format requires."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tests.agent.support import parse_metrics
from tui.cli.agent_http import parse_listen
from tui.cli.agent_log import LIBRARY_LOGGERS, setup_agent_logging
from tui.core.errors import InvalidRequest
from tui.core.metrics import Family, render

SECRET = "hunter2-Zq9xWv"


@pytest.fixture
def captured():
    stream = io.StringIO()
    yield stream
    for name in ("envdeck", *LIBRARY_LOGGERS):  # nothing of this test's stream left behind
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_never_reach_the_log(captured, fmt):
    setup_agent_logging(fmt, stream=captured)
    log = logging.getLogger("envdeck.agent.test")
    log.warning("connect to postgresql://envdeck:%s@db.internal/envdeck failed", SECRET,
                extra={"ctx": {"env": "prod", "error": f"password={SECRET}", "nested": {"token": SECRET}}})
    try:
        raise RuntimeError(f"Authorization: Bearer {SECRET}")
    except RuntimeError:
        log.exception("backend failed", extra={"ctx": {"env": "prod\x1b[31m"}})
    text = captured.getvalue()
    assert SECRET not in text and "***" in text
    assert "\x1b" not in text  # an escape in outside text is escaped (JSON) or made visible (text)
    lines = text.splitlines()
    if fmt == "json":
        first, second = (json.loads(line) for line in lines)
        assert first["level"] == "warning" and first["logger"] == "envdeck.agent.test" and first["env"] == "prod"
        assert first["nested"] == {"token": "***"}
        assert "RuntimeError" in second["exc"] and second["env"] == "prod\x1b[31m"
        assert "\\u001b" in lines[1]  # escaped in the line itself
    else:
        assert lines[0].split()[1:3] == ["WARNING", "envdeck.agent.test"] and "env=prod" in lines[0]


def test_exposition_escapes_label_values():
    fam = Family("envdeck_test_total", "counter", "A help text with a \\ backslash.")
    fam.inc(env='we"ird\\na\nme', backend="kubernetes")
    fam.inc(2, env="plain", backend="aws")
    text = render([fam])
    assert '# HELP envdeck_test_total A help text with a \\\\ backslash.' in text
    assert 'envdeck_test_total{backend="kubernetes",env="we\\"ird\\\\na\\nme"} 1' in text
    samples = parse_metrics(text)
    assert samples[("envdeck_test_total", (("backend", "aws"), ("env", "plain")))] == 2
    assert len(text.splitlines()) == 4  # the newline in a value did not split a sample


@pytest.mark.parametrize("listen,host,port", [("127.0.0.1:0", "127.0.0.1", 0), ("[::1]:9464", "::1", 9464),
                                               ("localhost:9000", "localhost", 9000)])
def test_loopback_listen_addresses(listen, host, port):
    address = parse_listen(listen)
    assert (address.host, address.port) == (host, port)


def test_listen_any_allows_every_interface():
    assert parse_listen("0.0.0.0:9464", listen_any=True).host == "0.0.0.0"
    with pytest.raises(InvalidRequest, match="not a loopback address"):
        parse_listen("0.0.0.0:9464")
    for bad in ("db.internal:9464", "127.0.0.1:99999", "127.0.0.1", ":9464", "[::1]9464"):
        with pytest.raises(InvalidRequest, match="--listen"):
            parse_listen(bad, listen_any=True)
