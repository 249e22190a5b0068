"""Model configs for input and output schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class In(BaseModel):
    """Input: unknown fields, NaN and infinities are refused (422)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=False)


class Out(BaseModel):
    """Output: built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)
