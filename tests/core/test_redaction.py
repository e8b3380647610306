"""The redaction rules (tui/core/redaction.py): what is hidden in parameters and command
lines, and what is left alone (an audit trail that hides everything is useless)."""

from __future__ import annotations

import pytest

from tui.core import redaction
from tui.core.redaction import compile_patterns, is_secret_name, redact_params, redact_text

SECRET = "hunter2XYZ"

HIDDEN = [
    (f"mysql --password={SECRET} -h db", "mysql --password=*** -h db"),
    (f"mysql -uroot -p{SECRET} shop -e 'select 1'", "mysql -uroot -p*** shop -e 'select 1'"),
    (f"mysqldump -h db -p{SECRET} shop", "mysqldump -h db -p*** shop"),
    (f"mariadb -p{SECRET}", "mariadb -p***"),
    (f"sshpass -p {SECRET} ssh gw-1", "sshpass -p *** ssh gw-1"),
    (f"deploy --token {SECRET} --nodes web", "deploy --token *** --nodes web"),
    (f"app --client-secret='{SECRET}'", "app --client-secret=***"),
    (f"PGPASSWORD={SECRET} psql -h db", "PGPASSWORD=*** psql -h db"),
    (f"MYSQL_PWD={SECRET} mysql", "MYSQL_PWD=*** mysql"),
    (f"curl 'https://api.example/v1?token={SECRET}&page=2'", "curl 'https://api.example/v1?token=***&page=2'"),
    (f'curl -H "Authorization: Bearer sk-live-{SECRET}" https://x', 'curl -H "Authorization: ***" https://x'),
    (f"curl -H 'X-Api-Key: {SECRET}' https://x", "curl -H 'X-Api-Key: ***' https://x"),
    (f"wget --header='Cookie: session={SECRET}' https://x", "wget --header='Cookie: ***' https://x"),
    (f"http GET x Bearer {SECRET}", "http GET x Bearer ***"),
    (f"curl -u admin:{SECRET} https://x", "curl -u admin:*** https://x"),
    (f"psql postgres://app:{SECRET}@db:5432/shop", "psql postgres://app:***@db:5432/shop"),
    ("aws s3 ls # AKIAIOSFODNN7EXAMPLE", "aws s3 ls # ***"),
    ("creds ASIAY34FZKBOKMUTVV7A", "creds ***"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "export AWS_SECRET_ACCESS_KEY=***"),
    ("aws configure set x wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws configure set x ***"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe ***"),
    ("gh auth ghp_16C7e42F292c6912E7710c838347Ae178B4a", "gh auth ***"),
    ('{"password": "' + SECRET + '", "user": "bob"}', '{"password": "***", "user": "bob"}'),
    ("echo '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----' > k",
     "echo '-----BEGIN OPENSSH PRIVATE KEY-----***' > k"),
]

LEFT_ALONE = [
    "uptime",
    "systemctl restart nginx --no-block",
    "journalctl -u web -n 100 -o cat",
    "git checkout 3f786850e387550fdab836ed7e6dc881de23001b",
    "kubectl -n staging scale deployment web --replicas=3",
    "mysql -p shop",  # -p alone prompts: `shop` is the database
    "ls -la /var/log && df -h",
    "aws/ec2-instance/i-0123456789abcdef0 restarted in 2.1s",
]


@pytest.mark.parametrize(("text", "expected"), HIDDEN)
def test_secret_parts_of_command_lines_are_hidden(text, expected):
    assert redact_text(text) == expected
    assert SECRET not in redact_text(text)


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_ordinary_command_lines_are_left_alone(text):
    assert redact_text(text) == text


@pytest.mark.parametrize("name", ["password", "db_pass", "pwd", "client_key", "apiKey", "api-key", "token",
                                  "AUTH_HEADER", "access_key", "ssh_private_key", "MYSQL_PWD", "passphrase",
                                  "cookie", "pin"])
def test_secret_parameter_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["replicas", "note", "service", "tag_key", "key", "compass", "author",
                                  "bypass", "nodes", "desired_count"])
def test_ordinary_parameter_names(name):
    assert not is_secret_name(name)


def test_params_nested_and_free_text_values():
    params = {"pwd": SECRET, "nested": {"db_pass": SECRET, "replicas": 3}, "note": f"Bearer {SECRET}",
              "command": f"mysql -p{SECRET}", "list": [f"token={SECRET}", 1]}
    assert redact_params(params) == {"pwd": "***", "nested": {"db_pass": "***", "replicas": 3},
                                     "note": "Bearer ***", "command": "mysql -p***", "list": ["token=***", 1]}


def test_operator_patterns_hide_the_match_or_its_first_group():
    try:
        redaction.configure([r"internal-[0-9a-f]{8}", r"ticket-secret:(\w+)"])
        assert redact_text("call internal-deadbeef now") == "call *** now"
        assert redact_text("ticket-secret:abc123 rest") == "ticket-secret:*** rest"
    finally:
        redaction.configure([])
    assert redact_text("call internal-deadbeef now") == "call internal-deadbeef now"


@pytest.mark.parametrize(("pattern", "fragment"), [("bad[(", "not a valid regular expression"),
                                                   ("x*", "matches the empty string")])
def test_bad_operator_patterns_are_refused(pattern, fragment):
    with pytest.raises(ValueError, match=fragment):
        compile_patterns([pattern])
