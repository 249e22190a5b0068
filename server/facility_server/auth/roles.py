"""Who may do what, where: roles, scopes and the permission table (pure).

A principal has one role over one node of the hierarchy (city, district, street,
community or complex). It sees only targets inside that subtree; out-of-scope targets
are reported as absent (404), in-scope targets its role may not touch as forbidden (403).
Source: issue 3 section 5 (accounts and roles scoped to a node of the hierarchy).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    """People's roles and machine identities."""

    admin = "admin"
    inspector = "inspector"
    complex_manager = "complex_manager"
    staff = "staff"
    clinician = "clinician"
    device = "device"
    gateway = "gateway"


class ScopeKind(StrEnum):
    """The node a role is scoped to."""

    city = "city"
    district = "district"
    street = "street"
    community = "community"
    complex = "complex"


MACHINE_ROLES = frozenset({Role.device, Role.gateway})
#: Which scopes each role may have.
ROLE_SCOPES: dict[Role, frozenset[ScopeKind]] = {
    Role.admin: frozenset({ScopeKind.city}),
    Role.inspector: frozenset({ScopeKind.district, ScopeKind.street}),
    Role.complex_manager: frozenset({ScopeKind.complex}),
    Role.staff: frozenset({ScopeKind.complex}),
    Role.clinician: frozenset({ScopeKind.complex, ScopeKind.community, ScopeKind.street}),
    Role.device: frozenset({ScopeKind.complex}),
    Role.gateway: frozenset(ScopeKind),
}

Resource = Literal[
    "region",
    "complex",
    "space",
    "device",
    "staff",
    "checkpoint",
    "alert",
    "audit",
    "account",
    "health_reading",
    "health_member",
]
#: ``acknowledge`` (alerts only): say "I am on it", which stops escalation; resolving and
#: every other change is ``write``.
Action = Literal["read", "write", "acknowledge"]

_R, _RW = frozenset({"read"}), frozenset({"read", "write"})
#: Alerts: the escalation goes to street and district duty people (inspectors) and names
#: the responsible staff member, so those who are told may acknowledge; resolving stays
#: with the complex manager (and admin).
_R_ACK, _RW_ACK = frozenset({"read", "acknowledge"}), frozenset({"read", "write", "acknowledge"})
PERMISSIONS: dict[Role, dict[str, frozenset[str]]] = {
    Role.admin: {
        r: _RW
        for r in (
            "region",
            "complex",
            "space",
            "device",
            "staff",
            "checkpoint",
            "audit",
            "account",
        )
    }
    | {"alert": _RW_ACK},
    Role.inspector: {
        **{r: _R for r in ("region", "complex", "space", "device", "staff", "checkpoint")},
        "alert": _R_ACK,
    },
    Role.complex_manager: {
        "complex": _RW,
        "space": _RW,
        "device": _RW,
        "staff": _RW,
        "checkpoint": _RW,
        "alert": _RW_ACK,
        "health_member": _RW,
    },
    Role.staff: {"complex": _R, "space": _R, "checkpoint": _R, "alert": _R_ACK},
    # health_reading: values, crisis follow-up, export, erasure; health_member: the member
    # register and consents (a manager records consents but never sees a value).
    Role.clinician: {"complex": _R, "space": _R, "health_reading": _RW, "health_member": _RW},
    Role.device: {"complex": _R, "device": _R},
    Role.gateway: {"complex": _R, "device": _R},
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated account."""

    account_id: int
    username: str
    role: Role
    scope_kind: ScopeKind
    scope_id: int | None

    @property
    def is_machine(self) -> bool:
        """True for device and gateway identities."""
        return self.role in MACHINE_ROLES


@dataclass(frozen=True, slots=True)
class Ancestry:
    """Where a target sits: its district, street, community and complex ids (None above it)."""

    district_id: int | None = None
    street_id: int | None = None
    community_id: int | None = None
    complex_id: int | None = None


def may(principal: Principal, resource: Resource, action: Action) -> bool:
    """True when the role may perform ``action`` on ``resource`` at all."""
    return action in PERMISSIONS.get(principal.role, {}).get(resource, frozenset())


def in_scope(principal: Principal, target: Ancestry) -> bool:
    """True when ``target`` lies inside the principal's subtree.

    A target above the scope node (e.g. a district for a street inspector) is outside.
    """
    if principal.scope_kind is ScopeKind.city:
        return True
    own = {
        ScopeKind.district: target.district_id,
        ScopeKind.street: target.street_id,
        ScopeKind.community: target.community_id,
        ScopeKind.complex: target.complex_id,
    }[principal.scope_kind]
    return own is not None and own == principal.scope_id
