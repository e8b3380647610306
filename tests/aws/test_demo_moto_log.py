"""The demo's moto server writes its request log and its tracebacks to a file of the demo
directory, never to the terminal the TUI draws on; and the ASG detail moto has not implemented
(DescribeInstanceRefreshes answers a 500 with an HTML page) is "not supported by this endpoint":
no fault, no log line of envdeck, and not asked again by the same backend."""

from __future__ import annotations

import logging

import pytest

from backends.aws import AwsBackend
from backends.sim.demo_world import MOTO_LOG, MotoLog
from tests.aws import arrange_services as svc
from tests.aws.arrange import aws_config, by_id
from tests.moto_server import arrange_clients, server_url, start_threaded
from tui.core.config import Defaults
from tui.core.model import Health

NOT_IMPLEMENTED = "The describe_instance_refreshes action has not been implemented"


@pytest.fixture
def demo_moto(tmp_path):
    """A moto server started as the demo starts its own: its loggers routed to the file first."""
    moto_log = MotoLog.open(tmp_path / MOTO_LOG)
    server = start_threaded()
    try:
        yield server_url(server), tmp_path / MOTO_LOG
    finally:
        server.stop()
        moto_log.close()


async def test_moto_tracebacks_go_to_the_demo_file_not_the_terminal(demo_moto, capfd, caplog):
    url, log_file = demo_moto
    svc.autoscaling_group(arrange_clients(url), "staging", "staging-workers")
    backend = AwsBackend("staging", aws_config(url, "staging"), Defaults(timeout=10.0))
    try:
        with caplog.at_level(logging.INFO):
            first = await backend.observe()
            errors_after_first = log_file.read_text(encoding="utf-8").count("Error on request")
            second = await backend.observe()
    finally:
        await backend.close()
    out, err = capfd.readouterr()
    assert "Traceback" not in err and "Error on request" not in err and NOT_IMPLEMENTED not in err, err[-2000:]
    assert "Traceback" not in out and "POST /" not in out, out[-2000:]
    written = log_file.read_text(encoding="utf-8")
    assert NOT_IMPLEMENTED in written and "POST / HTTP/1.1" in written  # errors and request log: in the file
    # server side: moto failed the operation on the first pass only; the second did not ask again
    assert errors_after_first >= 1
    assert written.count("Error on request") == errors_after_first
    for obs in (first, second):
        asg = by_id(obs)["aws/autoscaling-group/staging-workers"]
        assert asg.health == Health.HEALTHY, (asg.health, asg.health_reason)
        assert not [f for f in obs.faults if "refresh" in f"{f}".lower()], obs.faults
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith(("backends", "tui"))]


def test_closing_the_demo_file_restores_the_loggers(tmp_path):
    werkzeug = logging.getLogger("werkzeug")
    before = (list(werkzeug.handlers), werkzeug.propagate, werkzeug.level)
    moto_log = MotoLog.open(tmp_path / MOTO_LOG)
    assert werkzeug.handlers == [moto_log.handler] and werkzeug.propagate is False
    moto_log.close()
    assert (list(werkzeug.handlers), werkzeug.propagate, werkzeug.level) == before
