"""The truth's reference holder: the earliest holder of a number that the history shows."""

from __future__ import annotations

import numpy as np

from pipelines.synth_events import (
    ChunkEvents,
    CodeEntries,
    NumberChanges,
    Registrations,
    SmsDeliveries,
)
from pipelines.synth_params import DAY, SynthParams
from pipelines.synth_people import Tenures
from pipelines.synth_truth import NONE, _reference_holders

PARAMS = SynthParams()
START = PARAMS.start_s
END = PARAMS.end_s
YEARS_AGO = START - 3 * 365 * DAY
LEFT_BEFORE_START = START - 200 * DAY
TAKEN_AFTER_START = START + 100 * DAY


def tenures(*rows: tuple[int, int, int]) -> Tenures:
    """Tenure rows as (number, held_from, held_until), ordered by number, then by time."""
    phone, held_from, held_until = (
        np.array(column, dtype=np.int64) for column in zip(*rows, strict=True)
    )
    current = held_until == END
    return Tenures(
        phone=phone,
        order=np.zeros(phone.size, dtype=np.int64),
        held_from=held_from,
        held_until=held_until,
        current=current,
        reclaimed=~current,
        next_from=held_until,
    )


def events(
    registrations: tuple[tuple[int, int], ...] = (),
    sms: tuple[tuple[int, int], ...] = (),
) -> ChunkEvents:
    """Events as (number, ts); only where and when an event happened matters here."""

    def columns(rows: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
        phone = np.array([row[0] for row in rows], dtype=np.int64)
        return phone, np.array([row[1] for row in rows], dtype=np.int64)

    reg_phone, reg_ts = columns(registrations)
    sms_phone, sms_ts = columns(sms)
    none = np.zeros(0, dtype=np.int64)
    size = reg_phone.size
    return ChunkEvents(
        registrations=Registrations(
            phone=reg_phone,
            ts=reg_ts,
            product=np.zeros(size, dtype=np.int16),
            key=np.arange(size, dtype=np.int64),
            holder=np.zeros(size, dtype=np.int64),
            name_key=np.zeros(size, dtype=np.uint32),
            birth_day=np.zeros(size, dtype=np.int32),
            male=np.zeros(size, dtype=bool),
            region=np.zeros(size, dtype=np.int32),
            name_missing=np.ones(size, dtype=bool),
            birth_missing=np.ones(size, dtype=bool),
            gender_missing=np.ones(size, dtype=bool),
            region_missing=np.ones(size, dtype=bool),
        ),
        code_entries=CodeEntries(
            phone=none,
            ts=none,
            product=none.astype(np.int16),
            key=none,
            key_missing=none.astype(bool),
            holder=none,
        ),
        sms_deliveries=SmsDeliveries(
            phone=sms_phone,
            ts=sms_ts,
            product=np.zeros(sms_phone.size, dtype=np.int16),
            error=np.zeros(sms_phone.size, dtype=np.int8),
        ),
        number_changes=NumberChanges(
            phone=none, ts=none, product=none.astype(np.int16), key=none, reported=none
        ),
    )


# number 0: an earlier holder left before the history; their account's registration is in it
# number 1: the same, but only SMS meant for the earlier holder failing after they left shows it
# number 2: the earlier holder left no trace in the history
# number 3: no events at all
# number 4: a hand-over inside the history, whose first holder left no event
HELD = tenures(
    (0, YEARS_AGO, LEFT_BEFORE_START),
    (0, TAKEN_AFTER_START, END),
    (1, YEARS_AGO, LEFT_BEFORE_START),
    (1, TAKEN_AFTER_START, END),
    (2, YEARS_AGO, LEFT_BEFORE_START),
    (2, TAKEN_AFTER_START, END),
    (3, YEARS_AGO, END),
    (4, YEARS_AGO, START + 50 * DAY),
    (4, TAKEN_AFTER_START, END),
)
SEEN = events(
    registrations=((0, YEARS_AGO + DAY), (0, TAKEN_AFTER_START)),
    sms=(
        (1, START + DAY),
        (1, TAKEN_AFTER_START + DAY),
        (2, TAKEN_AFTER_START + DAY),
        (4, TAKEN_AFTER_START + DAY),
    ),
)


def test_an_earlier_holder_whose_registration_is_in_the_history_is_the_reference() -> None:
    assert _reference_holders(5, HELD, SEEN, PARAMS)[0] == 0


def test_an_earlier_holder_shown_only_by_sms_failing_after_they_left_is_the_reference() -> None:
    assert _reference_holders(5, HELD, SEEN, PARAMS)[1] == 2


def test_an_earlier_holder_the_history_does_not_show_is_not_the_reference() -> None:
    assert _reference_holders(5, HELD, SEEN, PARAMS)[2] == 5


def test_a_number_without_events_takes_its_first_holder_in_the_history() -> None:
    assert _reference_holders(5, HELD, SEEN, PARAMS)[3] == 6


def test_a_silent_first_holder_inside_the_history_stays_the_reference() -> None:
    assert _reference_holders(5, HELD, SEEN, PARAMS)[4] == 7


def test_a_number_without_any_holder_has_no_reference() -> None:
    assert _reference_holders(6, HELD, SEEN, PARAMS)[5] == NONE


def brute_force_reference(held: Tenures, first_event: dict[int, int], phone: int) -> int:
    rows = [row for row in range(held.size) if held.phone[row] == phone]
    reaching = [row for row in rows if held.current[row] or held.held_until[row] > START]
    shown = [
        row for row in rows if phone in first_event and held.held_from[row] <= first_event[phone]
    ]
    candidates = [*reaching[:1], *shown[-1:]]
    return min(candidates) if candidates else NONE


def test_random_chains_over_two_centuries_agree_with_a_brute_force() -> None:
    """Holders as far back as the parameters allow (200 years) keep numbers apart."""
    rng = np.random.default_rng(5)
    rows, regs = [], []
    for phone in range(300):
        moment = START - int(rng.integers(0, 195 * 365)) * DAY
        while moment < END:
            until = min(moment + int(rng.exponential(30 * 365)) * DAY, END)
            rows.append((phone, moment, until))
            moment = until + int(rng.integers(1, 400)) * DAY
        if rng.random() < 0.8:
            regs.append((phone, int(rng.integers(rows[-1][1] - 200 * 365 * DAY, END))))
    held = tenures(*rows)
    seen = events(registrations=tuple(regs))
    first_event: dict[int, int] = {}
    for phone, ts in regs:
        first_event[phone] = min(ts, first_event.get(phone, ts))

    found = _reference_holders(300, held, seen, PARAMS)

    assert found.tolist() == [brute_force_reference(held, first_event, p) for p in range(300)]
