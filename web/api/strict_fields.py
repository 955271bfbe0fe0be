"""The API's field types: what /api/openapi.json says a field takes is what the API takes.

marshmallow is lenient where the document is not: `Boolean` takes 1, "yes" and "on", `Integer`
takes 1.0 and "1", `Float` takes "1.5", and an integer with no stated bound is refused by the
database above 2^31-1 instead of by the schema. These replacements (same names as
`apiflask.fields`, and every other field re-exported, so a module switches with its import
line: `from web.api import strict_fields as fields`) are strict and bounded:

- JSON bodies: a boolean is `true` or `false`, an integer a JSON integer (not 1.5, not "1";
  JSON Schema counts 2.0 as an integer, so it is taken as 2),
  a number a JSON number; every integer is within the 32-bit range the database stores, and
  the document says so (minimum / maximum).
- Query strings and forms carry every value as text (a schema says so with `TEXT_INPUT =
  True`): there a boolean is `true` or `false`, an integer ASCII digits, a number a
  number written as JSON writes one (5.96e-08 too); never `²`, `٣`, `1_000`, `0x10` or `nan`.
- A time of day is `HH:MM` or `HH:MM:SS` (24 h, no offset), and the document has the pattern.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from apiflask import fields as apiflask_fields
from apiflask.fields import *  # noqa: F403  (every other field type, unchanged)
from apiflask.validators import Range

# Symmetric, as web.errors' out-of-range rule for ids and page numbers (|n| <= 2^31-1).
INT32_MAX = 2**31 - 1
INT32_MIN = -INT32_MAX

DIGITS = re.compile(r"-?[0-9]{1,19}(\.0{1,15})?")
# A number as JSON writes it (an exponent too: 5.96e-08), never nan, inf, 0x10 or 1_000.
DECIMAL = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?")
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
TIME = re.compile(TIME_PATTERN)


def reads_text(field: apiflask_fields.Field) -> bool:
    """True when the field's schema is loaded from a query string or a form (all text)."""
    return bool(getattr(field.root, "TEXT_INPUT", False))


class Integer(apiflask_fields.Integer):
    """A whole number within the database's 32-bit range unless a narrower `Range` says less."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["strict"] = True
        super().__init__(**kwargs)
        ranges = [v for v in self.validators if isinstance(v, Range)]
        if not any(r.min is not None for r in ranges):
            self.validators.insert(0, Range(min=INT32_MIN))
        if not any(r.max is not None for r in ranges):
            self.validators.insert(0, Range(max=INT32_MAX))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and reads_text(self):
            if not DIGITS.fullmatch(value):
                raise self.make_error("invalid", input=value)
            value = int(value.split(".")[0])
        elif isinstance(value, float) and value.is_integer() and abs(value) <= INT32_MAX:
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Float(apiflask_fields.Float):
    """A finite number: a JSON number in a body, one written the JSON way in a query or form."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, str):
            if not (reads_text(self) and DECIMAL.fullmatch(value)):
                raise self.make_error("invalid", input=value)
            value = float(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Boolean(apiflask_fields.Boolean):
    """`true` or `false`: a JSON boolean in a body, those two words in a query or form."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        if reads_text(self) and value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid", input=value)


class Time(apiflask_fields.Time):
    """A time of day, `HH:MM` or `HH:MM:SS` (marshmallow alone also takes `08`, `0800` and offsets)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": TIME_PATTERN, "example": "08:30", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> time:
        if not isinstance(value, str) or not TIME.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


Int = Integer
Bool = Boolean
