"""Who an operator's command acts as, in the messages' history."""

from __future__ import annotations

import os
import pwd


def operator_actor() -> str:
    """`operator:<login name>` of the account running the command.

    Taken from the process's user id, not from $USER or $LOGNAME, which anyone can set.
    """
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        name = f"uid-{uid}"
    return f"operator:{name}"
