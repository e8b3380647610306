"""Importing the edge backend looks up asyncssh's optional native libraries in the dynamic
loader's cache, not by running gcc and ld (ctypes.util.find_library's fallbacks): seven
processes in every envdeck process that speaks SSH. The libraries asyncssh finds are the ones
find_library itself finds in that cache."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import repo_root

PROBE = r"""
import ctypes.util, json, subprocess, sys, warnings
warnings.simplefilter("ignore")
ran = []
real_popen_init = subprocess.Popen.__init__
def recording(self, args, *a, **k):
    ran.append(args[0] if isinstance(args, (list, tuple)) else str(args).split()[0])
    real_popen_init(self, args, *a, **k)
subprocess.Popen.__init__ = recording
import backends.edge
import asyncssh.crypto.umac as umac, asyncssh.crypto.pq as pq
subprocess.Popen.__init__ = real_popen_init
print(json.dumps({"ran": [str(r) for r in ran], "nettle": umac._nettle_lib, "oqs": pq._oqs_lib,
                  "find_library_restored": ctypes.util.find_library.__module__ == "ctypes.util",
                  "cache_nettle": ctypes.util._findSoname_ldconfig("nettle") if sys.platform.startswith("linux") else None}))
"""


def test_importing_the_edge_backend_runs_no_compiler_and_finds_what_the_loader_finds():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=repo_root(),
                         env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONPATH": str(repo_root())}, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert not [r for r in seen["ran"] if r.rsplit("/", 1)[-1] in ("gcc", "cc", "ld", "x86_64-linux-gnu-gcc")], seen
    assert seen["find_library_restored"]
    if sys.platform.startswith("linux"):
        assert seen["nettle"] == seen["cache_nettle"]
        assert seen["ran"].count("/sbin/ldconfig") <= 1
