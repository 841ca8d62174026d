"""The deadline heap of parked connections (wsgiserver.server.parking)."""

from __future__ import annotations

from dataclasses import dataclass

from wsgiserver.server.parking import COMPACT_ABOVE, Deadlines


@dataclass(eq=False)
class Item:
    deadline: float


def test_due_items_come_out_in_deadline_order() -> None:
    heap: Deadlines[Item] = Deadlines()
    late, early, middle = Item(30.0), Item(10.0), Item(20.0)
    assert heap.schedule(late) is True
    assert heap.schedule(early) is True
    assert heap.schedule(middle) is False  # not the earliest: no need to wake anyone
    assert heap.next_deadline() == 10.0
    assert heap.pop_due(5.0) == []
    assert heap.pop_due(25.0) == [early, middle]
    assert heap.pop_due(100.0) == [late]
    assert not heap


def test_a_later_deadline_keeps_the_earlier_entry() -> None:
    # One entry per item: parking again with a later deadline costs no push; the caller
    # re-schedules when the old entry comes due.
    heap: Deadlines[Item] = Deadlines()
    item = Item(10.0)
    heap.schedule(item)
    item.deadline = 50.0
    assert heap.schedule(item) is False
    assert heap.pop_due(10.0) == [item]
    assert heap.schedule(item) is True
    assert heap.next_deadline() == 50.0


def test_an_earlier_deadline_replaces_the_entry() -> None:
    heap: Deadlines[Item] = Deadlines()
    item = Item(50.0)
    heap.schedule(item)
    item.deadline = 5.0
    assert heap.schedule(item) is True
    assert heap.pop_due(6.0) == [item]
    assert heap.pop_due(60.0) == []  # the old entry is stale, not handed out twice


def test_forgotten_items_are_never_due_and_not_retained() -> None:
    heap: Deadlines[Item] = Deadlines()
    items = [Item(float(i)) for i in range(COMPACT_ABOVE * 4)]
    for item in items:
        heap.schedule(item)
    for item in items[1:]:
        heap.forget(item)
    assert len(heap) == 1
    # Compaction dropped the stale entries, so they hold no reference to the items.
    assert len(heap._heap) <= COMPACT_ABOVE + 1
    assert heap.pop_due(1e9) == [items[0]]
