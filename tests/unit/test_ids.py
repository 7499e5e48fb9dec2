"""UUIDv7 identifiers: version, variant, time order and uniqueness."""

import time
import uuid

from app.utils.ids import new_id


def test_new_id_is_uuid_version_7_with_rfc_4122_variant() -> None:
    value = new_id()

    parsed = uuid.UUID(value)

    assert str(parsed) == value
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_new_id_embeds_the_current_unix_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000

    embedded = uuid.UUID(value).int >> 80

    assert before <= embedded <= after


def test_ids_created_later_sort_after_earlier_ones() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_id())
        time.sleep(0.002)

    assert ids == sorted(ids)
    assert [uuid.UUID(i).int for i in ids] == sorted(uuid.UUID(i).int for i in ids)


def test_a_thousand_ids_are_unique() -> None:
    ids = [new_id() for _ in range(1000)]

    assert len(set(ids)) == 1000


def test_ids_increase_within_one_millisecond() -> None:
    ids = [new_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
