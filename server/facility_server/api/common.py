"""Shared API pieces: pagination, id parameters, the page envelope."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_ID = 2**31 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Record id.")]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]
Search = Annotated[
    str | None, Query(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$", description="Name contains.")
]


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items``, the ``total`` matching, and the window."""

    model_config = ConfigDict(from_attributes=True)

    items: list[T]
    total: int
    limit: int
    offset: int


def paginate(
    session: Session, stmt: Select[Any], limit: int, offset: int, order: Any
) -> dict[str, Any]:
    """Run ``stmt`` for one page (ordered by ``order``) and count all matches."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(session.scalars(stmt.order_by(order).limit(limit).offset(offset)))
    return {"items": rows, "total": total, "limit": limit, "offset": offset}
