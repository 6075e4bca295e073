"""schemathesis's stateful phase: sequences of calls that follow the published links
(``api.links``) from intake through triage and allocation to discharge, every check on every
answer, against the real app with a worker running.

Each call carries the key of the role its operation is for (as in
``tests/test_api_schemathesis.py``): a referrer refers and answers, a coordinator triages,
allocates and holds, the practitioner ``p-ana`` runs the episode. Generated bodies rarely
reach the next stage (an allocation needs a practitioner who exists, triage needs
``accept``), so the test — not the published document — gives the links it loads literal
request bodies for those two fields; schemathesis still sends its own bodies some of the time.
The run must reach waiting, allocated and discharged, counted from the answers, so it cannot
pass by never getting there.

Slow (about 150 s at the smallest budget that reaches discharge): ``make check`` runs it, at
a fixed budget (derandomized: the same scenarios every run).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from collections import Counter
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.errors import FlakyStrategyDefinition
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.generation.stateful.state_machine import normalize_name
from schemathesis.specs.openapi.checks import positive_data_acceptance

from readmodel.practitioners import add_practitioner
from tests.fixtures.api import ORG_A, api_settings, intake_body, running_api
from tests.fixtures.temporal import Harness
from tests.test_api_schemathesis import (
    EXCLUDED_CHECKS,
    LoopBridge,
    _negation_vanished,
    _rejected_by_an_unstatable_rule,
    _role_for,
)

SCENARIOS = 20
STEPS = 50
PRACTITIONER = "p-ana"
# What the test adds to the links it loads, by target operation: the values that let a
# generated request reach the next stage.
LINK_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/referrals/{ref}/triage"): {"outcome": "accept"},
    ("post", "/v1/referrals/{ref}/allocation"): {"practitioner_id": PRACTITIONER},
}
INTAKE = ("POST", "/v1/referrals")
# The intake fields whose rules no JSON Schema states (``UNSTATABLE_RULES``): a schema-valid
# value for them is mostly refused, so a positive intake takes these from a valid body.
VALID_INTAKE = intake_body()
UNSTATABLE_FIELDS = {
    "client": ("email", "phone", "nhs_number"),
    "referrer": ("email", "organisation"),
}
# Each intake's own number, from Ofcom's drama range: texts to one number are limited per hour
# (five), and a referral whose text waits for that limit holds its actions until it is sent.
PHONES = (f"+447700900{n % 1000:03d}" for n in itertools.count())
# The stage each action's 200 shows when it took the referral there.
MILESTONES = {
    ("POST", "/v1/referrals/{ref}/triage"): "waiting",
    ("POST", "/v1/referrals/{ref}/allocation"): "allocated",
    ("POST", "/v1/referrals/{ref}/discharge"): "discharged",
}


@pytest.mark.slow  # reaching discharge takes thousands of calls (~150 s): `make check` runs it
async def test_stateful_links_reach_waiting_allocated_and_discharged(harness: Harness) -> None:
    generous = api_settings(
        intake_per_minute=1e9, intake_burst=10**9, inbound_per_minute=1e9, inbound_burst=10**9
    )
    async with running_api(harness, generous) as api:
        await add_practitioner(
            harness.session_factory, PRACTITIONER, "Ana Lowry", "ana@harbour.example", capacity=500
        )
        keys = {
            "coordinator": await api.key("coordinator"),
            "referrer": await api.key("referrer", organisation=ORG_A),
            "practitioner": await api.key("practitioner", practitioner=PRACTITIONER),
            "gateway": await api.key("gateway"),
        }
        published = (await api.get("/openapi.json")).json()
        async with harness.worker():
            bridge = LoopBridge(api.app, asyncio.get_running_loop())
            started = time.monotonic()
            reached, calls, failure = await asyncio.to_thread(_run, published, bridge, keys)
            elapsed = time.monotonic() - started
    print(f"\nstateful: {sum(calls.values())} calls in {elapsed:.0f} s; reached {dict(reached)}")
    for (label, status), count in sorted(calls.items()):
        print(f"  {count:5d}  {status}  {label}")
    assert failure is None, failure
    assert {"waiting", "allocated", "discharged"} <= set(reached), (reached, calls)


def _with_link_bodies(published: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document whose links to triage and allocation carry ``LINK_BODIES``."""
    schema = copy.deepcopy(published)
    operation_ids = {
        operation["operationId"]: (method, path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    for item in schema["paths"].values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                for link in response.get("links", {}).values():
                    body = LINK_BODIES.get(operation_ids[link["operationId"]])
                    if body is not None:
                        link["requestBody"] = body
    return schema


def _run(
    published: dict[str, Any], bridge: LoopBridge, keys: dict[str, str]
) -> tuple[Counter[str], Counter[tuple[str, int]], str | None]:
    """Run the state machine; the milestones reached, the calls by operation and status, and
    the failure (None if every check passed)."""
    schema = schemathesis.openapi.from_dict(_with_link_bodies(published))
    schema.app = bridge
    # The published links only: schemathesis's own guesses would, among others, send
    # generated practitioners over p-ana (PUT /v1/practitioners/{id}).
    schema.config.phases.stateful.inference.algorithms = []
    schema.hook("map_case")(_intake_that_can_succeed)
    reached: Counter[str] = Counter()
    calls: Counter[tuple[str, int]] = Counter()
    # Every failed check, as it happened: hypothesis replays a failing scenario before it
    # reports it, and against a server whose state the earlier scenarios changed the replay
    # may draw differently and be reported as a flaky strategy instead of the failure itself.
    failed_checks: list[str] = []

    generated = schema.as_state_machine()

    class PathwayStateMachine(generated):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            role = _role_for(case.operation.method.upper(), case.operation.path)
            return {"headers": {"Authorization": f"Bearer {keys[role]}"}}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            method, path = case.operation.method.upper(), case.operation.path
            calls[(f"{method} {path}", response.status_code)] += 1
            milestone = MILESTONES.get((method, path))
            if milestone is not None and response.status_code == 200:
                if response.json().get("stage") == milestone:
                    reached[milestone] += 1

        def validate_response(
            self,
            response: Any,
            case: Any,
            additional_checks: list[Any] | None = None,
            **kwargs: Any,
        ) -> None:
            mode = case.meta.generation.mode if case.meta is not None else None
            if mode == GenerationMode.NEGATIVE and (
                _negation_vanished(case, response) or _carries_link_body(case)
            ):
                return  # the violation was lost on the way out: it tested nothing
            excluded = EXCLUDED_CHECKS
            if _rejected_by_an_unstatable_rule(response):
                excluded = [*EXCLUDED_CHECKS, positive_data_acceptance]
            try:
                case.validate_response(
                    response,
                    additional_checks=additional_checks,
                    excluded_checks=excluded,
                    headers=kwargs.get("headers"),
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except (Exception, BaseExceptionGroup) as error:
                label = f"{case.operation.method.upper()} {case.operation.path}"
                failed_checks.append(f"{label}: {type(error).__name__}: {error}"[:3000])
                raise

    # Scenarios start at intake only: every operation with generated references is
    # tests/test_api_schemathesis.py's; here the budget goes to sequences.
    intake = normalize_name(f"RANDOM -> {INTAKE[0]} {INTAKE[1]}")
    assert intake in generated.root_rules, generated.root_rules
    for name in generated.root_rules - {intake}:
        setattr(PathwayStateMachine, name, None)  # hypothesis finds no rule there
    PathwayStateMachine.root_rules = frozenset({intake})
    PathwayStateMachine._root_labels = frozenset({f"{INTAKE[0]} {INTAKE[1]}"})
    settings = hypothesis.settings(
        max_examples=SCENARIOS,
        stateful_step_count=STEPS,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    try:
        run_state_machine_as_test(PathwayStateMachine, settings=settings)
    except FlakyStrategyDefinition:
        # The scenarios share one server, so the same choices can meet different answers
        # (a caseload fuller, a list longer than when hypothesis first took that path): it
        # stops exploring. Not a verdict on Harbour: any failed check is in failed_checks,
        # and the milestones must still have been reached.
        pass
    except (Exception, BaseExceptionGroup) as error:  # reported with what was reached
        return reached, calls, f"{type(error).__name__}: {error}"[:6000]
    if failed_checks:
        return reached, calls, failed_checks[0]
    return reached, calls, None


def _intake_that_can_succeed(context: Any, case: Any) -> Any:
    """A positive intake with valid values where only rules no schema states would refuse it
    (``UNSTATABLE_FIELDS``); every other field stays as generated."""
    operation = context.operation
    if operation is None or (operation.method.upper(), operation.path) != INTAKE:
        return case
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return case
    body = case.body
    if not isinstance(body, dict):
        return case
    for part, fields in UNSTATABLE_FIELDS.items():
        section = body.get(part)
        if not isinstance(section, dict):
            continue
        for field in fields:
            if isinstance(section.get(field), str):
                if field == "organisation":
                    section[field] = ORG_A
                elif field == "phone":
                    section[field] = next(PHONES)
                else:
                    section[field] = VALID_INTAKE[part][field]
    return case


def _carries_link_body(case: Any) -> bool:
    """Whether the body holds the test's own literal values (``LINK_BODIES``), merged in
    after schemathesis generated it: a negative case's violation may be gone under them."""
    literal = LINK_BODIES.get((case.operation.method.lower(), case.operation.path))
    body = case.body
    return (
        literal is not None
        and isinstance(body, dict)
        and all(body.get(name) == value for name, value in literal.items())
    )
