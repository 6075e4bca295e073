"""The allocation rules (models/allocation.py): ordering, fairness and capacity.

Examples for each rule first, then a property-based test that drives ``plan_allocations`` the
way an allocator does — after every event, on the whole list — over random event sequences, and
checks the invariants the service promises (issue 3).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from models.allocation import (
    Assignment,
    PractitionerRoom,
    WaitingReferral,
    allocation_order_key,
    free_places,
    plan_allocations,
    practitioner_order_key,
    returning_order_key,
)
from models.referral import Urgency

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def new(
    ref: str, urgency: Urgency = Urgency.ROUTINE, days_ago: float = 0, **kw: object
) -> WaitingReferral:
    received = T0 - timedelta(days=days_ago)
    return WaitingReferral(
        ref=ref, urgency=urgency, received_at=received, waiting_since=received, **kw
    )


def returning(ref: str, to: str, days_ago: float = 0, **kw: object) -> WaitingReferral:
    since = T0 - timedelta(days=days_ago)
    return WaitingReferral(
        ref=ref,
        urgency=Urgency.ROUTINE,
        received_at=T0 - timedelta(days=400),
        waiting_since=since,
        returning_to=to,
        **kw,
    )


def room(id: str, capacity: int, caseload: int = 0, active: bool = True) -> PractitionerRoom:
    return PractitionerRoom(id=id, capacity=capacity, caseload=caseload, active=active)


def pairs(plan: list[Assignment]) -> list[tuple[str, str]]:
    return [(a.ref, a.practitioner_id) for a in plan]


# -- returning clients ------------------------------------------------------------------------


def test_a_returning_client_comes_before_anyone_new() -> None:
    # One place, with ana. The newcomer is urgent and has waited longer: the returning client
    # still goes first, because that place is her own practitioner's.
    plan = plan_allocations(
        [new("R-urgent", Urgency.URGENT, days_ago=90), returning("R-back", "p-ana")],
        [room("p-ana", capacity=5, caseload=4)],
    )
    assert pairs(plan) == [("R-back", "p-ana")]
    assert "returning" in plan[0].reason


def test_a_returning_client_waits_for_their_own_practitioner_only() -> None:
    # Ana is full; Ben has room. The returning client is not given to Ben; the newcomer is.
    plan = plan_allocations(
        [returning("R-back", "p-ana", days_ago=10), new("R-new")],
        [room("p-ana", capacity=3, caseload=3), room("p-ben", capacity=3, caseload=0)],
    )
    assert pairs(plan) == [("R-new", "p-ben")]


def test_returning_clients_are_seen_in_the_order_they_asked() -> None:
    plan = plan_allocations(
        [
            returning("R-later", "p-ana", days_ago=1),
            returning("R-earlier", "p-ana", days_ago=5),
        ],
        [room("p-ana", capacity=4, caseload=3)],
    )
    assert pairs(plan) == [("R-earlier", "p-ana")]
    assert returning_order_key(returning("a", "p", days_ago=5)) < returning_order_key(
        returning("a", "p", days_ago=1)
    )


def test_returning_clients_of_a_practitioner_on_leave_wait() -> None:
    plan = plan_allocations(
        [returning("R-back", "p-ana")],
        [room("p-ana", capacity=5, caseload=0, active=False), room("p-ben", capacity=5)],
    )
    assert plan == []


# -- new referrals: urgency, then the longest wait ----------------------------------------------


def test_urgent_before_soon_before_routine_whatever_the_wait() -> None:
    waiting = [
        new("R-routine", Urgency.ROUTINE, days_ago=200),
        new("R-soon", Urgency.SOON, days_ago=100),
        new("R-urgent", Urgency.URGENT, days_ago=1),
    ]
    plan = plan_allocations(waiting, [room("p-ana", capacity=2)])
    assert [a.ref for a in plan] == ["R-urgent", "R-soon"]
    assert sorted(waiting, key=allocation_order_key)[-1].ref == "R-routine"


def test_within_an_urgency_the_longest_wait_goes_first() -> None:
    waiting = [new("R-b", days_ago=3), new("R-c", days_ago=30), new("R-a", days_ago=10)]
    plan = plan_allocations(waiting, [room("p-ana", capacity=2)])
    assert [a.ref for a in plan] == ["R-c", "R-a"]
    assert "routine" in plan[0].reason


def test_the_clock_starts_at_referral_not_at_joining_the_list() -> None:
    # R-slow-triage was referred first but joined the list later: it still comes first.
    early = new("R-slow-triage", days_ago=20).model_copy(update={"waiting_since": T0})
    late = new("R-quick-triage", days_ago=10)
    plan = plan_allocations([late, early], [room("p-ana", capacity=1)])
    assert [a.ref for a in plan] == ["R-slow-triage"]


def test_equal_cases_are_decided_the_same_way_every_time() -> None:
    waiting = [new("R-2"), new("R-1"), new("R-3")]
    rooms = [room("p-ana", capacity=1)]
    assert [a.ref for a in plan_allocations(waiting, rooms)] == ["R-1"]
    assert [a.ref for a in plan_allocations(reversed(waiting), rooms)] == ["R-1"]


# -- holds, leave, capacity, spreading --------------------------------------------------------


def test_a_held_referral_is_never_allocated() -> None:
    plan = plan_allocations(
        [
            new("R-held", Urgency.URGENT, days_ago=50, held=True),
            returning("R-back-held", "p-ana", held=True),
            new("R-next"),
        ],
        [room("p-ana", capacity=5)],
    )
    assert pairs(plan) == [("R-next", "p-ana")]


def test_a_practitioner_on_leave_gets_nobody() -> None:
    plan = plan_allocations(
        [new(f"R-{i}") for i in range(5)],
        [room("p-ana", capacity=9, active=False), room("p-ben", capacity=2)],
    )
    assert {a.practitioner_id for a in plan} == {"p-ben"}
    assert len(plan) == 2


def test_never_above_capacity() -> None:
    rooms = [room("p-ana", capacity=3, caseload=2), room("p-ben", capacity=4, caseload=2)]
    plan = plan_allocations([new(f"R-{i}", days_ago=i) for i in range(10)], rooms)
    assert len(plan) == free_places(rooms) == 3
    assert sum(a.practitioner_id == "p-ana" for a in plan) == 1
    assert sum(a.practitioner_id == "p-ben" for a in plan) == 2
    # A caseload already above a lowered capacity takes nobody and counts no negative room.
    over = [room("p-ana", capacity=2, caseload=5), room("p-ben", capacity=1)]
    assert free_places(over) == 1
    assert pairs(plan_allocations([new("R-1"), new("R-2")], over)) == [("R-1", "p-ben")]


def test_each_new_referral_goes_to_the_most_free_room() -> None:
    rooms = [
        room("p-ana", capacity=6, caseload=5),  # 1 free
        room("p-ben", capacity=8, caseload=5),  # 3 free
        room("p-cat", capacity=4, caseload=2),  # 2 free, smaller caseload than ben
    ]
    plan = plan_allocations([new(f"R-{i}", days_ago=10 - i) for i in range(4)], rooms)
    # ben has the most free (3). R-1: ben and cat have 2 free, cat the smaller caseload.
    # ben has 2 free, the others 1. R-3: all have 1 free; cat's caseload (3) is smallest.
    assert pairs(plan) == [("R-0", "p-ben"), ("R-1", "p-cat"), ("R-2", "p-ben"), ("R-3", "p-cat")]
    assert sorted(rooms, key=practitioner_order_key)[0].id == "p-ben"


def test_planning_does_not_change_the_rooms_it_was_given() -> None:
    rooms = [room("p-ana", capacity=2)]
    plan_allocations([new("R-1")], rooms)
    assert rooms[0].caseload == 0


def test_the_head_of_the_list_gives_the_same_plan_as_all_of_it() -> None:
    waiting = [new(f"R-{i:02d}", list(Urgency)[i % 3], days_ago=i) for i in range(30)]
    waiting.append(returning("R-back", "p-ana"))
    rooms = [room("p-ana", capacity=4, caseload=2), room("p-ben", capacity=3, caseload=1)]
    new_in_order = sorted((w for w in waiting if not w.returning_to), key=allocation_order_key)
    head = [w for w in waiting if w.returning_to] + new_in_order[: free_places(rooms)]
    assert plan_allocations(head, rooms) == plan_allocations(waiting, rooms)


# -- property: an allocator over random event sequences ---------------------------------------

PRACTITIONERS = ["p-a", "p-b", "p-c", "p-d"]
# The order as DESIGN.md states it, written out independently of allocation_order_key, so that
# the property checks the rule itself and not the module against itself.
SPEC_RANK = {Urgency.URGENT: 0, Urgency.SOON: 1, Urgency.ROUTINE: 2}


def spec_order(w: WaitingReferral) -> tuple[int, datetime, str]:
    return (SPEC_RANK[w.urgency], w.received_at, w.ref)


class Allocator(RuleBasedStateMachine):
    """A model service: the list, caseloads and episodes, with plan_allocations run on the whole
    list after every event that could change what it decides, as an allocator runs it."""

    waiting_refs = Bundle("waiting_refs")

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.rooms: dict[str, PractitionerRoom] = {}
        self.referrals: dict[str, WaitingReferral] = {}  # every referral, as it first joined
        self.waiting: dict[str, WaitingReferral] = {}
        self.episodes: dict[str, str] = {}  # ref -> practitioner, while in an episode
        self.discharged: dict[str, str] = {}  # ref -> their practitioner, open for re-entry
        self.allocated_new: set[str] = set()

    @initialize(capacities=st.lists(st.integers(0, 4), min_size=1, max_size=len(PRACTITIONERS)))
    def practitioners(self, capacities: list[int]) -> None:
        for pid, capacity in zip(PRACTITIONERS, capacities, strict=False):
            self.rooms[pid] = PractitionerRoom(id=pid, capacity=capacity, caseload=0)

    # -- events --------------------------------------------------------------------------

    @rule(
        target=waiting_refs,
        urgency=st.sampled_from(list(Urgency)),
        days_ago=st.integers(0, 60),
        hours=st.integers(0, 72),
    )
    def referral_joins(self, urgency: Urgency, days_ago: int, hours: int) -> str:
        self.now += timedelta(hours=hours)
        ref = f"R{len(self.referrals):04d}"
        # Received a while ago (triage takes time), on the hour: equal times happen on purpose.
        received = self.now - timedelta(days=days_ago)
        self.referrals[ref] = self.waiting[ref] = WaitingReferral(
            ref=ref, urgency=urgency, received_at=received, waiting_since=self.now
        )
        self.allocate()
        return ref

    @precondition(lambda self: bool(self.discharged))
    @rule(data=st.data())
    def client_comes_back(self, data: st.DataObject) -> None:
        ref = data.draw(st.sampled_from(sorted(self.discharged)))
        self.now += timedelta(hours=1)
        self.waiting[ref] = self.referrals[ref].model_copy(
            update={"waiting_since": self.now, "returning_to": self.discharged.pop(ref)}
        )
        self.allocate()

    @rule(ref=waiting_refs, held=st.booleans())
    def hold_or_release(self, ref: str, held: bool) -> None:
        if ref in self.waiting:  # new or returning; a hold only applies while waiting
            self.waiting[ref] = self.waiting[ref].model_copy(update={"held": held})
            self.allocate()

    @precondition(lambda self: bool(self.episodes))
    @rule(data=st.data())
    def discharge(self, data: st.DataObject) -> None:
        ref = data.draw(st.sampled_from(sorted(self.episodes)))
        pid = self.episodes.pop(ref)
        self.rooms[pid].caseload -= 1
        self.discharged[ref] = pid
        self.allocate()

    @rule(data=st.data(), capacity=st.integers(0, 6))
    def capacity_changes(self, data: st.DataObject, capacity: int) -> None:
        pid = data.draw(st.sampled_from(sorted(self.rooms)))
        self.rooms[pid].capacity = capacity  # may drop below the caseload: nobody is removed
        self.allocate()

    @rule(data=st.data())
    def leave_or_return(self, data: st.DataObject) -> None:
        pid = data.draw(st.sampled_from(sorted(self.rooms)))
        self.rooms[pid].active = not self.rooms[pid].active
        self.allocate()

    @precondition(lambda self: len(self.rooms) < len(PRACTITIONERS))
    @rule(capacity=st.integers(1, 4))
    def practitioner_joins(self, capacity: int) -> None:
        pid = PRACTITIONERS[len(self.rooms)]
        self.rooms[pid] = PractitionerRoom(id=pid, capacity=capacity, caseload=0)
        self.allocate()

    # -- the allocator, and what it must never do ---------------------------------------

    def allocate(self) -> None:
        rooms = list(self.rooms.values())
        before = {p.id: p.model_copy() for p in rooms}
        plan = plan_allocations(list(self.waiting.values()), rooms)

        refs = [a.ref for a in plan]
        assert len(refs) == len(set(refs)), "one referral allocated twice in one plan"
        given: dict[str, int] = {}
        for a in plan:
            referral = self.waiting[a.ref]  # KeyError: allocated someone not on the list
            assert not referral.held, "a held referral was allocated"
            assert before[a.practitioner_id].active, "allocated to a practitioner on leave"
            if referral.returning_to:
                assert a.practitioner_id == referral.returning_to, "returning client elsewhere"
            else:
                assert a.ref not in self.allocated_new, "a referral allocated twice"
                self.allocated_new.add(a.ref)
            given[a.practitioner_id] = given.get(a.practitioner_id, 0) + 1
        for pid, count in given.items():
            assert before[pid].caseload + count <= before[pid].capacity, "caseload over capacity"

        new_allocated = [self.waiting[a.ref] for a in plan if not self.waiting[a.ref].returning_to]
        for a in plan:
            del self.waiting[a.ref]
            self.rooms[a.practitioner_id].caseload += 1
            self.episodes[a.ref] = a.practitioner_id

        # Fairness: no unheld new referral earlier in the order is left waiting while a later
        # one is allocated, nor while any room is left; a returning client is left waiting only
        # when their own practitioner has no room.
        left = [w for w in self.waiting.values() if not w.held and not w.returning_to]
        if new_allocated and left:
            last = max(spec_order(w) for w in new_allocated)
            assert all(spec_order(w) > last for w in left), "allocated out of order"
        if left:
            assert free_places(self.rooms.values()) == 0, "left waiting while there was room"
        for w in self.waiting.values():
            if w.returning_to and not w.held:
                assert self.rooms[w.returning_to].free == 0, "returning client left with room"

    @invariant()
    def caseloads_match_episodes(self) -> None:
        for pid, r in self.rooms.items():
            assert r.caseload == sum(1 for p in self.episodes.values() if p == pid)

    @invariant()
    def nobody_is_lost(self) -> None:
        everyone = set(self.referrals)
        assert everyone == set(self.waiting) | set(self.episodes) | set(self.discharged)
        assert not set(self.waiting) & set(self.episodes)


Allocator.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAllocator = Allocator.TestCase
