"""`:versions` cuts a long image keeping its `name:tag` start readable (never `…AAAA`), and the
`status` table shows a TAB of an AWS Name tag escaped (`^I`) with its columns still in line."""

from __future__ import annotations

from rich.cells import cell_len

from screens.versions import cut_version, version_cell
from tui.cli.output import status_table
from tui.core.compare.versions import ComponentRow, Version
from tui.widgets.cells import PLAIN

LONG = "nginx:1.27" + "A" * 200


def test_a_long_image_keeps_its_name_and_tag():
    assert cut_version(LONG, 20) == "nginx:1.27AAA…AAAAAA"
    digest = "registry.example.com/team/nginx:1.27.3-alpine@sha256:" + "ab" * 32
    assert cut_version(digest, 24) == "nginx:1.27.3-alpi…ababab"
    assert cut_version("registry.example.com/team/nginx:1.27", 24) == "…/nginx:1.27"
    assert cut_version("nginx:1.27", 24) == "nginx:1.27"
    for width in range(0, 30):
        assert cell_len(cut_version(LONG, width)) <= width


def test_the_versions_cell_is_cut_at_its_end_not_its_start():
    row = ComponentRow("kubernetes/web", {"prod": Version("kubernetes/Deployment/web", LONG)}, ("prod",))
    cell = version_cell(row, "prod", "prod", PLAIN, 16)
    assert cell.plain.startswith("nginx:1.27") and cell.cell_len == 16


def test_a_tab_in_a_name_is_escaped_and_the_columns_stay_in_line(capsys):
    resources = [{"backend": "aws", "kind": "ec2-instance", "name": name, "id": f"aws/ec2-instance/i-{n}",
                  "status": "running", "health": "Healthy", "drift": None, "findings": []}
                 for n, name in enumerate(("web\tprod", "db"))]
    status_table([{"name": "dev", "health": "Healthy", "drift": None, "repair": "off", "faults": [], "drifts": [],
                   "backends": {}, "resources": resources}])
    out = capsys.readouterr().out
    assert "\t" not in out and "web^Iprod" in out
    head, first, second = out.splitlines()[1:4]
    assert head.index("ID") == first.index("aws/ec2-instance/i-0") == second.index("aws/ec2-instance/i-1")
