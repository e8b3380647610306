"""Unreachable endpoints, invalid credentials and denials become typed errors with clear,
secret-free messages; a backend recovers when the endpoint comes back.

These tests start their own moto servers (killing the shared one would break the others).
"""

from __future__ import annotations

import boto3
import pytest

from backends.aws import AwsBackend
from tests.aws import arrange
from tests.aws.arrange import aws_config
from tests.moto_server import free_port, start_threaded
from tui.core.config import Defaults
from tui.core.errors import BackendDenied, BackendUnreachable
from tui.core.model import Health

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz"


async def test_endpoint_killed_mid_run_then_restarted(moto_url):  # moto_url: reset the shared state
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_threaded(port)
    try:
        ec2 = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
            "ec2", endpoint_url=url, region_name="us-east-1")
        iid = arrange.instance(lambda _name: ec2, "staging", "web-1")
        backend = AwsBackend("staging", aws_config(url), Defaults(timeout=2))
        first = await backend.observe()
        assert any(r.id == f"aws/ec2-instance/{iid}" for r in first.resources)

        server.stop()
        with pytest.raises(BackendUnreachable) as failure:
            await backend.observe()
        message = str(failure.value)
        assert "unreachable" in message and f"127.0.0.1:{port}" in message
        assert failure.value.backend == "aws"
        # the other calls fail the same typed way, without crashing
        with pytest.raises(BackendUnreachable):
            await backend.check()

        server = start_threaded(port)  # moto's in-process state survives the restart
        again = await backend.observe()
        assert {r.id for r in again.resources} == {r.id for r in first.resources}
        assert all(r.health == Health.HEALTHY for r in again.resources)
        await backend.close()
    finally:
        server.stop()


async def test_invalid_or_expired_credentials_are_unreachable_without_secrets(auth_moto, make_backend, monkeypatch):
    url, _ = auth_moto
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    backend = make_backend(endpoint_url=url)
    with pytest.raises(BackendUnreachable, match="credentials are expired or invalid") as failure:
        await backend.observe()
    assert SECRET not in str(failure.value) and "AKIAIOSFODNN7EXAMPLE" not in str(failure.value)
    with pytest.raises(BackendUnreachable, match="InvalidClientTokenId"):
        await backend.check()


async def test_access_denied_is_backend_denied(auth_moto, make_backend, monkeypatch):
    url, users = auth_moto
    key_id, secret = users["nobody"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    backend = make_backend(endpoint_url=url)
    with pytest.raises(BackendDenied, match="access denied") as failure:
        await backend.observe()
    assert "GetResources" in str(failure.value)
    assert secret not in str(failure.value)
    # identity needs no permission: check() still proves who we are, by account id only
    assert await backend.check() == "account 123456789012 in us-east-1"


async def test_credentials_come_from_the_profile_like_the_aws_cli(moto_url, make_backend, isolated_home, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    aws_dir = isolated_home / ".aws"
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text(f"[staging]\naws_access_key_id = AKIAPROFILEKEY000001\n"
                                         f"aws_secret_access_key = {SECRET}\n")
    (aws_dir / "config").write_text("[profile staging]\nregion = eu-west-1\n")
    backend = make_backend(profile="staging")
    assert (await backend.check()).startswith("account ")
    assert "staging" in backend.describe() and SECRET not in backend.describe()

    nobody = make_backend()  # no profile and no keys anywhere: a clear error, no traceback
    with pytest.raises(BackendUnreachable, match="no usable AWS credentials"):
        await nobody.observe()
    missing = make_backend(profile="does-not-exist")
    with pytest.raises(BackendUnreachable, match="does-not-exist"):
        await missing.observe()


def test_endpoint_userinfo_is_never_shown():
    backend = AwsBackend("staging", aws_config("http://user:hunter2@127.0.0.1:9"), Defaults())
    assert "hunter2" not in backend.describe()
