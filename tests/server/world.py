"""A small world for API tests: three complexes in two districts, an account per role.

- ``a``: the shipped example, 西湖区/北山街道/曙光社区 (site xihu-beishan-shuguang)
- ``c``: 西湖区/灵隐街道/玉泉社区 (same district, another street)
- ``b``: 拱墅区/米市巷街道/卖鱼桥社区 (another district)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from facility_server.auth.accounts import create_account
from facility_server.auth.passwords import hash_secret
from facility_server.auth.roles import Role, ScopeKind
from facility_server.auth.tokens import issue_jwt
from facility_server.models import Account, Complex, Device, Region, Space, Staff
from facility_server.setup.importer import import_setup_text
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

SECRET = "test-secret-" + "x" * 32
PASSWORD = "correct horse battery"  # noqa: S105 - test fixture


def variant(
    example: str,
    site: str,
    street: tuple[str, str],
    community: tuple[str, str],
    district: tuple[str, str] = ("xihu", "西湖区"),
) -> str:
    """The example file moved to another site and place."""
    text = example.replace("xihu-beishan-shuguang", site)
    text = text.replace(
        "{code: xihu, name: 西湖区}", f"{{code: {district[0]}, name: {district[1]}}}"
    )
    text = text.replace(
        "{code: beishan, name: 北山街道}", f"{{code: {street[0]}, name: {street[1]}}}"
    )
    return text.replace(
        "{code: shuguang, name: 曙光社区}", f"{{code: {community[0]}, name: {community[1]}}}"
    )


@dataclass
class World:
    """Ids of what was created, and a bearer token per role name."""

    complexes: dict[str, int] = field(default_factory=dict)
    spaces: dict[str, int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)
    staff: dict[str, int] = field(default_factory=dict)
    regions: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        """Authorization header for ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def build_world(factory: sessionmaker[Session], example_path: Path, now: datetime) -> World:
    """Import three complexes and create one account per role (see module doc)."""
    example = example_path.read_text(encoding="utf-8")
    docs = {
        "a": example,
        "c": variant(
            example, "xihu-lingyin-yuquan", ("lingyin", "灵隐街道"), ("yuquan", "玉泉社区")
        ),
        "b": variant(
            example,
            "gongshu-mishixiang-maiyuqiao",
            ("mishixiang", "米市巷街道"),
            ("maiyuqiao", "卖鱼桥社区"),
            ("gongshu", "拱墅区"),
        ),
    }
    world = World()
    with factory() as session:
        for key, doc in docs.items():
            report = import_setup_text(session, doc)
            cx = session.scalars(select(Complex).where(Complex.site_id == report.site_id)).one()
            world.complexes[key] = cx.id
            world.spaces[key] = session.scalars(
                select(Space.id).where(Space.complex_id == cx.id)
            ).first()
            world.devices[key] = session.scalars(
                select(Device.id).where(Device.complex_id == cx.id)
            ).first()
            world.staff[key] = session.scalars(
                select(Staff.id).where(Staff.complex_id == cx.id)
            ).first()
        for path in ("xihu", "xihu/beishan", "gongshu"):
            world.regions[path] = session.scalars(
                select(Region.id).where(Region.path == path)
            ).one()
        _accounts(session, world, now)
        session.commit()
    return world


@lru_cache(maxsize=1)
def _password_hash() -> str:
    """One Argon2 hash of PASSWORD for every person (hashing costs ~0.1 s each)."""
    return hash_secret(PASSWORD)


def _accounts(session: Session, world: World, now: datetime) -> None:
    a = world.complexes["a"]
    people = {
        "admin": (Role.admin, ScopeKind.city, None),
        "district_inspector": (Role.inspector, ScopeKind.district, world.regions["xihu"]),
        "street_inspector": (Role.inspector, ScopeKind.street, world.regions["xihu/beishan"]),
        "manager_a": (Role.complex_manager, ScopeKind.complex, a),
        "staff_a": (Role.staff, ScopeKind.complex, a),
        "clinician_a": (Role.clinician, ScopeKind.complex, a),
    }
    for name, (role, kind, scope) in people.items():
        account = Account(
            username=name,
            kind="person",
            role=str(role),
            scope_kind=str(kind),
            scope_id=scope,
            password_hash=_password_hash(),
            active=True,
        )
        session.add(account)
        session.flush()
        world.tokens[name] = issue_jwt(account.id, name, SECRET, now, 3600)
    for name, (role, kind, scope) in {
        "gateway": (Role.gateway, ScopeKind.city, None),
        "device_a": (Role.device, ScopeKind.complex, a),
    }.items():
        _, token = create_account(session, name, role, kind, scope)
        assert token is not None
        world.tokens[name] = token
