"""Subscriptions are plain values: validated when built, looked up by type, wired explicitly."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from vaxport.core.outbox import Event, HandlerContext, Subscriber, Subscriptions


async def one(event: Event, ctx: HandlerContext) -> None:
    return None


async def many(events: Sequence[Event], ctx: HandlerContext) -> None:
    return None


def test_subscriptions_look_up_subscribers_by_type_in_the_order_listed() -> None:
    a = Subscriber.each("test.a", ["x.happened", "y.happened"], one)
    b = Subscriber("test.b", ("x.happened",), many, batch_size=50)
    subs = Subscriptions([a, b])
    assert subs.for_type("x.happened") == (a, b)
    assert subs.for_type("y.happened") == (a,)
    assert subs.for_type("z.happened") == ()
    assert subs.names == ("test.a", "test.b")
    assert subs.event_types == ("x.happened", "y.happened")
    assert subs.get("test.b") is b
    assert list(subs) == [a, b]
    assert len(Subscriptions()) == 0


def test_subscriptions_refuse_two_subscribers_of_one_name() -> None:
    with pytest.raises(ValueError, match=r"two subscribers are named test\.a"):
        Subscriptions(
            [Subscriber.each("test.a", ["x.a"], one), Subscriber("test.a", ("y.b",), many)]
        )


def test_subscriptions_cannot_be_changed_after_they_are_built() -> None:
    subs = Subscriptions([Subscriber.each("test.a", ["x.a"], one)])
    with pytest.raises(AttributeError):
        subs.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        Subscriber.each("test.b", ["x.a"], one).name = "renamed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "types", "batch_size", "error"),
    [
        ("Has Spaces", ("x.a",), 1, "bad subscriber name"),
        ("test.a", ("Bad Type",), 1, "bad outbox event type"),
        ("test.a", (), 1, "subscribes to no event type"),
        ("test.a", ("x.a",), 0, "batch_size"),
        ("test.a", ("x.a",), 10_001, "batch_size"),
    ],
)
def test_subscriber_refuses_bad_declarations(
    name: str, types: tuple[str, ...], batch_size: int, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        Subscriber(name, types, many, batch_size=batch_size)


def test_a_subscriber_listed_twice_for_a_type_is_called_once() -> None:
    sub = Subscriber("test.a", ("x.a", "x.a"), many)
    assert sub.event_types == ("x.a",)


def test_the_composition_root_lists_each_contexts_subscribers() -> None:
    from vaxport import wiring
    from vaxport.facilities import events as facilities
    from vaxport.notifications import events as notifications
    from vaxport.registration.imports import events as import_events

    subs = wiring.event_subscriptions()
    assert subs.names == (
        "notifications.send-message",
        "facilities.refresh-directory",
        "registration.run-import",
        "scheduling.waitlist-offer",
        "scheduling.appointment-messages",
        "scheduling.cancel-sessions-of-closed-facility",
        "scheduling.follow-region-of-changed-facility",
        "immunization.aefi-admins",
        "immunization.next-dose-reminders",
        "certificates.issuance",
    )
    assert [s.name for s in subs.for_type("dose.recorded")] == [
        "immunization.next-dose-reminders",
        "certificates.issuance",
    ]
    assert [s.name for s in subs.for_type("appointment.booked")] == [
        "scheduling.appointment-messages"
    ]
    assert [s.name for s in subs.for_type(notifications.SEND)] == ["notifications.send-message"]
    for event_type in facilities.EVENT_TYPES:
        assert subs.for_type(event_type)[0].name == "facilities.refresh-directory"
    assert [s.name for s in subs.for_type(facilities.DEACTIVATED)] == [
        "facilities.refresh-directory",
        "scheduling.cancel-sessions-of-closed-facility",
    ]
    assert subs.get("registration.run-import") == import_events.SUBSCRIBERS[0]
    # People's events have no subscriber yet: they are done when published, not dead.
    assert subs.for_type("beneficiary.registered") == ()
