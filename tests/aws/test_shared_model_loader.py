"""The clients of every environment read botocore's service models through one loader per
process (parsed once), while each environment keeps its own credentials and region."""

from __future__ import annotations

from backends.aws.clients import AwsClients, shared_data_loader
from tui.core.config import AwsConfig


def test_two_environments_share_the_models_not_the_credentials(isolated_home, monkeypatch):
    aws_dir = isolated_home / ".aws"
    aws_dir.mkdir(exist_ok=True)
    (aws_dir / "credentials").write_text("[blue]\naws_access_key_id = AKIABLUE\naws_secret_access_key = b\n"
                                         "[green]\naws_access_key_id = AKIAGREEN\naws_secret_access_key = g\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # the profiles' keys, not the suite's dummy ones
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    blue = AwsClients(AwsConfig(profile="blue", region="eu-west-1", tags={"env": "blue"}), 2.0)
    green = AwsClients(AwsConfig(profile="green", region="us-east-1", tags={"env": "green"}), 2.0)
    try:
        ec2_blue, ec2_green = blue.client("ec2"), green.client("ec2")
        assert ec2_blue._loader is ec2_green._loader is shared_data_loader()
        assert ec2_blue.meta.service_model is not None
        assert ec2_blue._request_signer._credentials.access_key == "AKIABLUE"
        assert ec2_green._request_signer._credentials.access_key == "AKIAGREEN"
        assert (ec2_blue.meta.region_name, ec2_green.meta.region_name) == ("eu-west-1", "us-east-1")
    finally:
        blue.close()
        green.close()
