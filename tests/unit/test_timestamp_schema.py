"""Timestamps leave the API in one fixed shape, so their text sorts as their time does."""

from datetime import UTC, datetime, timedelta, timezone

from pydantic import BaseModel, TypeAdapter

from app.schemas.base import Timestamp

ADAPTER = TypeAdapter(Timestamp)


def test_a_whole_second_keeps_its_millisecond_digits() -> None:
    moment = datetime(2026, 11, 26, 8, 54, 31, tzinfo=UTC)
    assert ADAPTER.dump_json(moment) == b'"2026-11-26T08:54:31.000Z"'


def test_other_zones_are_written_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 11, 26, 10, 54, 31, 176_000, tzinfo=plus_two)
    assert ADAPTER.dump_json(moment) == b'"2026-11-26T08:54:31.176Z"'


def test_text_order_matches_time_order_across_a_second_boundary() -> None:
    base = datetime(2026, 11, 26, 8, 54, 30, 985_000, tzinfo=UTC)
    moments = [base + timedelta(milliseconds=step) for step in range(0, 60, 5)]
    texts = [ADAPTER.dump_python(moment, mode="json") for moment in moments]
    assert sorted(texts) == texts
    assert len({len(text) for text in texts}) == 1


def test_python_mode_keeps_the_datetime() -> None:
    moment = datetime(2026, 11, 26, tzinfo=UTC)
    assert ADAPTER.dump_python(moment) is moment


def test_the_schema_still_says_date_time() -> None:
    class Model(BaseModel):
        at: Timestamp

    schema = Model.model_json_schema(mode="serialization")
    field = schema["properties"]["at"]
    assert (field["type"], field["format"]) == ("string", "date-time")
