"""The API's field types take what the OpenAPI document says and nothing else (no database)."""

from __future__ import annotations

import re

import pytest
from apiflask import Schema
from marshmallow import ValidationError

from core.phones import normalize_phone, phone_pattern
from web.api import strict_fields as fields


class Body(Schema):
    n = fields.Integer()
    x = fields.Float()
    yes = fields.Boolean()
    at = fields.Time()


class Query(Body):
    TEXT_INPUT = True


def loads(schema: type[Schema], **data):
    return schema().load(data)


@pytest.mark.parametrize("value", [1, 0, "true", "false", "yes", "on", "1", None])
def test_a_json_boolean_is_only_true_or_false(value):
    with pytest.raises(ValidationError) as error:
        loads(Body, yes=value)
    assert "yes" in error.value.messages


def test_json_true_and_false_are_booleans():
    assert loads(Body, yes=True)["yes"] is True
    assert loads(Body, yes=False)["yes"] is False


@pytest.mark.parametrize("value", [1.5, "1", "²", True, 2**31, -(2**31)])
def test_a_json_integer_refuses_fractions_text_booleans_and_numbers_beyond_32_bits(value):
    with pytest.raises(ValidationError) as error:
        loads(Body, n=value)
    assert "n" in error.value.messages


def test_a_json_integer_takes_whole_numbers_including_json_schemas_2_point_0():
    assert loads(Body, n=2**31 - 1)["n"] == 2**31 - 1
    assert loads(Body, n=2.0)["n"] == 2


@pytest.mark.parametrize("value", ["1.5", "nan", True])
def test_a_json_number_refuses_text_and_booleans(value):
    with pytest.raises(ValidationError):
        loads(Body, x=value)


@pytest.mark.parametrize(
    "field, value",
    [
        ("n", "²"),
        ("n", "٣"),
        ("n", "1_000"),
        ("n", " 1"),
        ("x", "0x10"),
        ("x", "nan"),
        ("x", "1e999"),
        ("yes", "1"),
        ("yes", "yes"),
    ],
)
def test_query_text_must_be_ascii_digits_plain_decimals_and_true_or_false(field, value):
    with pytest.raises(ValidationError) as error:
        loads(Query, **{field: value})
    assert field in error.value.messages


def test_query_text_is_read_as_numbers_and_booleans():
    assert loads(Query, n="42", x="-1.25", yes="true") == {"n": 42, "x": -1.25, "yes": True}
    assert loads(Query, x="5.960464477539063e-08")["x"] == 5.960464477539063e-08


@pytest.mark.parametrize("value", ["08", "0800", "08:00+08:00", "24:00", "8:00"])
def test_a_time_of_day_is_hh_mm_or_hh_mm_ss(value):
    with pytest.raises(ValidationError):
        loads(Body, at=value)
    assert loads(Body, at="08:30")["at"].isoformat() == "08:30:00"


def test_every_integer_documents_the_32_bit_bounds_and_a_time_its_pattern():
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec("t", "1", "3.1.0", plugins=[MarshmallowPlugin()])
    spec.components.schema("Body", schema=Body)
    props = spec.to_dict()["components"]["schemas"]["Body"]["properties"]
    assert (props["n"]["minimum"], props["n"]["maximum"]) == (-(2**31 - 1), 2**31 - 1)
    assert re.fullmatch(props["at"]["pattern"], "23:59:59")


@pytest.mark.parametrize("number", ["13800138000", "+8613800138000", "02988888888", "01062345678"])
def test_the_documented_phone_pattern_matches_plain_valid_numbers(number):
    assert re.search(phone_pattern(), number)
    normalize_phone(number, mobile_only=False)


@pytest.mark.parametrize("text", ["12345", "1380013800", "138001380000", "+86 138", "²3800138000"])
def test_the_documented_phone_pattern_refuses_what_is_no_number(text):
    assert not re.search(phone_pattern(), text)
