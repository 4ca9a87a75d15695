"""Who may do what. Every endpoint names one permission; a role that does not hold it is refused.

    viewer    reads messages, rejections, the outbox, dead letters, statistics, health
    operator  a viewer who also acts: resend, re-drive
    admin     an operator who also manages accounts and suspends or reactivates parties
    auditor   a viewer who also reads and verifies the audit trail (admins do not: separation of duties)
    party     a registered party's staff: only what that party may read (customs/permissions.py)
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    AUDITOR = "auditor"
    PARTY = "party"


class Permission(enum.StrEnum):
    SELF = "self"  # one's own account: who am I, log out, own API tokens
    READ = "read"  # the gateway's traffic, all of it
    PARTY_READ = "party_read"  # what one party may read
    ACT = "act"  # change a message's state: resend, re-drive
    ADMINISTER = "administer"  # accounts, parties
    AUDIT = "audit"  # the audit trail


_STAFF_READ = frozenset({Permission.SELF, Permission.READ})
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _STAFF_READ,
    Role.OPERATOR: _STAFF_READ | {Permission.ACT},
    Role.ADMIN: _STAFF_READ | {Permission.ACT, Permission.ADMINISTER},
    Role.AUDITOR: _STAFF_READ | {Permission.AUDIT},
    Role.PARTY: frozenset({Permission.SELF, Permission.PARTY_READ}),
}


def allows(role: str, permission: Permission) -> bool:
    """Whether `role` holds `permission`; an unknown role holds nothing."""
    try:
        return permission in GRANTS[Role(role)]
    except ValueError:
        return False
