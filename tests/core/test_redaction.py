"""The redaction rules (tui/core/redaction.py): what is hidden in parameters and command
lines, and what is left alone (an audit trail that hides everything is useless)."""

from __future__ import annotations

import signal

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
    # review findings, round 2: each was stored verbatim
    (f"mysql -uroot -p'{SECRET} battery staple' shop", "mysql -uroot -p*** shop"),
    (f'mysql -p"{SECRET}; battery" shop -e "select 1"', 'mysql -p*** shop -e "select 1"'),
    (f"sshpass -p '{SECRET} two' ssh gw-1", "sshpass -p *** ssh gw-1"),
    (f"gpg --import <<EOF\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n{SECRET}\n=abc\n-----END PGP PRIVATE KEY BLOCK-----\nEOF",
     "gpg --import <<EOF\n-----BEGIN PGP PRIVATE KEY BLOCK-----***\nEOF"),
    (f"docker login -u bob -p {SECRET} registry.example", "docker login -u bob -p *** registry.example"),
    (f"podman login -p{SECRET} quay.io", "podman login -p*** quay.io"),
    (f"redis-cli -h db -a {SECRET} ping", "redis-cli -h db -a *** ping"),
    (f"redis-cli -h db -a '{SECRET} x' ping", "redis-cli -h db -a *** ping"),
    (f"curl 'https://b.s3.amazonaws.com/k?X-Amz-Date=1&X-Amz-Signature={SECRET}&x=2'",
     "curl 'https://b.s3.amazonaws.com/k?X-Amz-Date=1&X-Amz-Signature=***&x=2'"),
    (f"curl 'https://acct.blob.core.windows.net/c/b?sv=2020&sig={SECRET}%2B&se=2026'",
     "curl 'https://acct.blob.core.windows.net/c/b?sv=2020&sig=***&se=2026'"),
    (f"curl 'https://x/y?signature={SECRET}&page=2'", "curl 'https://x/y?signature=***&page=2'"),
    (f"ldapsearch -x -D cn=admin,dc=ex -w {SECRET} -b dc=ex", "ldapsearch -x -D cn=admin,dc=ex -w *** -b dc=ex"),
    (f"ldappasswd -x -w {SECRET} -a old{SECRET} -s new{SECRET} uid=bob", "ldappasswd -x -w *** -a *** -s *** uid=bob"),
    (f"openssl pkcs12 -in a.p12 -passin pass:{SECRET} -passout 'pass:{SECRET} x' -out a.pem",
     "openssl pkcs12 -in a.p12 -passin pass:*** -passout 'pass:***' -out a.pem"),
    (f"openssl enc -aes256 -pass pass:{SECRET} -in f", "openssl enc -aes256 -pass *** -in f"),
    (f"openssl enc -aes256 -k {SECRET} -in f", "openssl enc -aes256 -k *** -in f"),
    ("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJodW50ZXIyWFlaIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok",
     "id *** ok"),
    (f"password: {SECRET}\nuser: bob\n  api-key: {SECRET} two\n- secret: {SECRET}\nreplicas: 3",
     "password: ***\nuser: bob\n  api-key: ***\n- secret: ***\nreplicas: 3"),
    (f"echo token: {SECRET} >> cfg", "echo token: *** >> cfg"),
    ("logged akiaiosfodnn7example", "logged ***"),
    (f"echo 'bob:{SECRET}' | chpasswd", "echo 'bob:***' | chpasswd"),
    (f"echo bob:{SECRET} | sudo chpasswd", "echo bob:*** | sudo chpasswd"),
    (f"echo {SECRET} | sudo -S systemctl restart nginx", "echo *** | sudo -S systemctl restart nginx"),
    (f"echo {SECRET}|sudo -kS whoami", "echo ***|sudo -kS whoami"),
    (f"printf '%s\\n' {SECRET} | passwd --stdin bob", "printf *** | passwd --stdin bob"),
    (f"echo {SECRET} | docker login -u bob --password-stdin", "echo *** | docker login -u bob --password-stdin"),
    ("vault login hvs.CAESIJlWh1dJ7TwQ6tR0e_ZhAbCdEfGhIjKlMnOpQrStUvWxYz", "vault login ***"),
    ("vault token lookup s.Xa1b2C3d4E5f6G7h8I9j0K1l", "vault token lookup ***"),
    (f"psql postgres://app:p@{SECRET}@db:5432/shop", "psql postgres://app:***@db:5432/shop"),
    (f"mongosh mongodb://app:ab/{SECRET}@db/shop", "mongosh mongodb://app:***@db/shop"),
    (f"redis-cli -u redis://:{SECRET}@cache:6379/0", "redis-cli -u redis://:***@cache:6379/0"),
    # review findings, round 3: each was stored verbatim
    (f"password = {SECRET}", "password = ***"),
    (f"[db]\nhost = db1\npassword = {SECRET} two\nport = 5432", "[db]\nhost = db1\npassword = ***\nport = 5432"),
    (f"load {{'password': '{SECRET}', 'user': 'bob'}}", "load {'password': '***', 'user': 'bob'}"),
    (f'{{"password": "{SECRET}"}}', '{"password": "***"}'),
    (f"sudo -S reboot <<< {SECRET}", "sudo -S reboot <<< ***"),
    (f"chpasswd <<< 'root:{SECRET}'", "chpasswd <<< 'root:***'"),
    (f"echo {SECRET} | kinit admin", "echo *** | kinit admin"),
    (f"curl -b 'session={SECRET}' https://x", "curl -b *** https://x"),
    (f"curl --cookie 'sid={SECRET}' https://x", "curl --cookie *** https://x"),
    (f"curl 'https://x/login?next=%2F&password%3D{SECRET}%26a%3D1'", "curl 'https://x/login?next=%2F&password%3D***%26a%3D1'"),
    (f"aws ssm put-parameter --name /db/pw --value {SECRET} --type SecureString",
     "aws ssm put-parameter --name /db/pw --value *** --type SecureString"),
    (f"az login -u me -p {SECRET}", "az login -u me -p ***"),
    (f"mongo -u admin -p {SECRET} shop", "mongo -u admin -p *** shop"),
    (f"mongosh -u admin -p {SECRET}", "mongosh -u admin -p ***"),
    (f"ipmitool -I lanplus -U a -P {SECRET} power status", "ipmitool -I lanplus -U a -P *** power status"),
    (f"keytool -list -storepass {SECRET} -keypass {SECRET}", "keytool -list -storepass *** -keypass ***"),
    (f"smbclient //h/s -U admin%{SECRET}", "smbclient //h/s -U admin%***"),
    (f"lftp -u admin,{SECRET} ftp.example", "lftp -u admin,*** ftp.example"),
    (f"htpasswd -b f admin {SECRET}", "htpasswd -b f admin ***"),
    (f"htpasswd -bB -C 10 f admin {SECRET}", "htpasswd -bB -C 10 f admin ***"),
    ("npm config set //registry.npmjs.org/:_authToken npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
     "npm config set //registry.npmjs.org/:_authToken ***"),
    (f"npm config set //registry.npmjs.org/:_authToken {SECRET}", "npm config set //registry.npmjs.org/:_authToken ***"),
    ("export NPM_TOKEN_X npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "export NPM_TOKEN_X ***"),
    ("gh ghp_AbCdEfGhIjKlMnOpQrStUv", "gh ***"),
    ("glpat-AbCdEfGhIjKlMnOpQrStUv", "***"),
    ("xoxp-1234567890-abc", "***"),
    (f"curl -X POST https://hooks.slack.com/services/T0001/B0002/{SECRET}", "curl -X POST https://hooks.slack.com/services/***"),
    (f"session={SECRET} cred={SECRET} salt={SECRET}", "session=*** cred=*** salt=***"),
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
    "docker run -p 8080:80 nginx",  # -p publishes a port outside `docker login`
    "ldapsearch -x -W -b dc=ex",  # -W prompts
    "openssl rsa -in k -passin env:KEYPW -passout file:/run/pw",  # where the password is, not it
    "echo hello | grep h",
    "curl https://host:8080/a?mail=a@b.c",  # a port, not a password
    "git clone ssh://git@host:22/x",
    "curl https://user@host/x",
    "time: 12:30 status: ok note: fine",
    "see items.Xa1b2C3d4E5f6G7h8I9j0K1l and s.short",
    "region asiapacificregionsxx",  # 20 letters after asia-, no digit: a word, not a key id
    "kubectl get secret db-creds -o yaml",
    "Back-off restarting failed container web in pod web-7d4b9c",
    "ssh -p 22 gw-1",
    "az login -u me",
    "grep password file",
    "grep -r 'password =' /etc",
    "mongosh --port 27017 shop",
    "ipmitool -I lanplus -U admin sensor",
    "lftp -u admin ftp.example",
    "smbclient -L host -N",
    "htpasswd -c f admin",  # prompts
    "npm config set registry https://registry.npmjs.org/",
    "aws ssm get-parameter --name /db/pw --with-decryption",
    "replicas = 3",
    "if a == b: pass",
    "{'user': 'bob', 'replicas': 3}",
    "sudo -S reboot",
    "cat <<< hello",
    "keytool -list -storepass:env STOREPW",  # where the password is, not it
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
                                  "cookie", "pin", "sig", "X-Amz-Signature", "session", "cred",
                                  "salt", "storepass", "keypass"])
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


def test_secret_looking_parameter_names_are_hidden_with_their_values():
    """`--param AKIAIOSFODNN7EXAMPLE=1` stored the key id as the name of a denied row's
    parameter: a name that looks like a secret is hidden too (numbered when several)."""
    params = {"AKIAIOSFODNN7EXAMPLE": "1", "sk_live_4eC39HqLyjWDarjtT1zdp7dc": "x", "replicas": 3,
              "note": f"token={SECRET}"}
    assert redact_params(params) == {"***": "***", "***#2": "***", "replicas": 3, "note": "token=***"}
    assert redact_params(redact_params(params)) == redact_params(params), "shown again, unchanged"


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


@pytest.mark.parametrize("text", ["a" * 1_000_000, "password=" * 111_112, "password = " * 90_910,
                                  "-p " * 333_334, "sudo -S " * 125_000, "%3D" * 333_334,
                                  "<<< x " * 166_667, "curl -b " * 125_000, "htpasswd -b " * 83_334],
                         ids=["a", "password=", "password =", "-p", "sudo -S", "%3D", "here-string", "curl -b",
                              "htpasswd -b"])
def test_a_long_line_is_redacted_in_linear_time(text):
    """A hostile 1 MB line must not stall the audit write (no catastrophic backtracking):
    the alarm bounds the run generously; no timing is asserted otherwise."""
    def stop(signum, frame):
        raise TimeoutError("redaction of a 1 MB line ran over 60 s")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(60)
    try:
        out = redact_text(text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert isinstance(out, str) and out


@pytest.mark.parametrize("name", ["dbpass", "DBPASS", "DBPass", "rootpass", "adminpass", "SMTPPass", "userpw",
                                  "dbpw", "rootpw", "pswd", "pgpass", "PaSS", "dsn", "DATABASE_DSN", "sentryDsn",
                                  "userPwd", "db_pswd", "ROOTPW", "MAIL_SMTPPASS"])
def test_run_together_password_names_are_secret(name):
    assert is_secret_name(name)
    assert redact_params({name: SECRET}) == {name: "***"}
    assert redact_text(f"{name}={SECRET} --{name} {SECRET}") == f"{name}=*** --{name} ***"


@pytest.mark.parametrize("name", ["bypass", "compass", "passenger", "overpass", "encompass", "surpass",
                                  "trespass", "lowpass", "bandpass", "compassHeading", "bypass_cache",
                                  "passport", "passive", "passes", "DNS", "dns_name", "spw_mode"])
def test_words_holding_pass_or_pw_are_not_secret(name):
    assert not is_secret_name(name)
    assert redact_text(f"{name}=on --{name} yes") == f"{name}=on --{name} yes"


def test_the_finding_line_is_redacted():
    line = "DBPASS=hunter2 adminpass=hunter3 rootpw=x9 --dbpass hunter4"
    assert redact_text(line) == "DBPASS=*** adminpass=*** rootpw=*** --dbpass ***"
