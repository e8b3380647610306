"""Who is running envdeck: the OS login user (the identity of the access policy, of the audit
rows' `user`, of a lease holder `user@host:pid` and of the lifecycle's `(by HOLDER)`)."""

from __future__ import annotations

import os
import pwd


def current_user() -> str:
    """The OS login name of the effective user: `pwd.getpwuid(geteuid())`, never $USER or
    $LOGNAME, which anyone can set. Only a uid without a passwd entry (a container run under
    an arbitrary uid) has no name of its own: there the deployment names it in $LOGNAME
    (docs/deploy/README.md), else it is the uid's number."""
    euid = os.geteuid()
    try:
        return pwd.getpwuid(euid).pw_name
    except KeyError:
        return os.environ.get("LOGNAME") or str(euid)
