"""The config's `compare:` section and the edge `version` template, checked by `envdeck check`
with PATH:LINE:COL like the rest (the CLI's main() in this process)."""

from __future__ import annotations

from tests.helpers import envdeck_inproc as envdeck  # the CLI's main() in this process

GOOD = """\
environments:
  staging: {}
  prod: {}
compare:
  ignore: [replicas, "image[sidecar]"]
  mappings:
    - a: staging
      b: prod
      roles: {staging-db: prod-database}
"""


def check(tmp_path, text: str):
    path = tmp_path / "envdeck.yaml"
    path.write_text(text)
    path.chmod(0o600)
    return envdeck("check", "--config", str(path), "--state-dir", str(tmp_path / "state")), str(path)


def test_a_good_compare_section_passes(tmp_path):
    proc, _ = check(tmp_path, GOOD)
    assert proc.returncode == 0, proc.stderr


def test_bad_compare_sections_are_located(tmp_path):
    proc, path = check(tmp_path, GOOD.replace("\"image[sidecar]\"", "colour"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{path}:5:3: compare.ignore: unknown field 'colour'"), proc.stderr
    proc, path = check(tmp_path, GOOD.replace("b: prod", "b: prodx"))
    assert proc.returncode == 2 and "mappings[0].b: unknown environment 'prodx'" in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"{path}:4:1: compare:"), proc.stderr
    proc, path = check(tmp_path, GOOD.replace("{staging-db: prod-database}", "{}\n      extra: 1"))
    assert proc.returncode == 2
    assert f"{path}:9:7: compare.mappings.0.roles:" in proc.stderr
    assert f"{path}:10:7: compare.mappings.0.extra: unknown key 'extra'" in proc.stderr


def test_edge_version_template_takes_only_the_service(tmp_path):
    node = ("environments:\n  staging:\n    edge:\n      nodes:\n        - name: gw-01\n          host: 127.0.0.1\n"
            "          services: [web]\n          commands: {version: 'cat /opt/{service}/VERSION'}\n")
    proc, _ = check(tmp_path, node)
    assert proc.returncode == 0, proc.stderr
    proc, path = check(tmp_path, node.replace("{service}/VERSION", "{lines}/VERSION"))
    assert proc.returncode == 2 and "unknown placeholder {lines}; this command takes {service}" in proc.stderr, \
        proc.stderr
