"""What every JSON body of the API is built on: the frozen base model, and the error body
(``Problem``) that every resource answers its refusals with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    model_config = ConfigDict(frozen=True)


class Problem(Schema):
    """Every error body: ``detail`` is a message, or a list of validation errors."""

    detail: Any
