"""Who is running envdeck: the OS login user (the identity of the access policy)."""

from __future__ import annotations

import getpass
import os
import pwd


def current_user() -> str:
    """The OS login name of the effective user (not $USER, which anyone can set)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return getpass.getuser()
