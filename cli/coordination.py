"""Coordinators' decisions on a referral: triage, allocation by hand, holds, the validation
queue, withdrawal and closure."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from cli.runner import (
    DEFAULT_COORDINATOR,
    Coordinator,
    Ref,
    act,
    free_text,
    one_line_text,
    run,
)
from models.actions import (
    Allocation,
    Closure,
    ClosureReason,
    DeclineReason,
    Hold,
    HoldReason,
    HoldRelease,
    Removal,
    RemovalReason,
    TriageDecision,
    TriageOutcome,
    WithdrawalConfirmation,
)

if TYPE_CHECKING:
    from bootstrap import Runtime

app = typer.Typer()


class TriageChoice(StrEnum):
    """The triage outcomes as typed (``ask`` is a request for information)."""

    ACCEPT = "accept"
    DECLINE = "decline"
    ASK = "ask"


@app.command()
def triage(
    ref: Ref,
    outcome: Annotated[
        TriageChoice, typer.Argument(help="accept, decline (with --reason) or ask (--question)")
    ],
    reason: Annotated[
        DeclineReason | None, typer.Option(help="why it is declined (decline)")
    ] = None,
    signposting: Annotated[
        str | None, typer.Option(help="other services suggested (decline)", callback=free_text)
    ] = None,
    question: Annotated[
        str | None, typer.Option(help="what to ask the referrer (ask)", callback=free_text)
    ] = None,
    coordinator: Coordinator = DEFAULT_COORDINATOR,
) -> None:
    """coordinator: accept, decline or ask the referrer"""

    async def body(runtime: Runtime) -> None:
        decided = {
            TriageChoice.ACCEPT: TriageOutcome.ACCEPT,
            TriageChoice.DECLINE: TriageOutcome.DECLINE,
            TriageChoice.ASK: TriageOutcome.REQUEST_INFORMATION,
        }[outcome]
        decision = TriageDecision(
            outcome=decided,
            coordinator=coordinator,
            decline_reason=reason,
            signposting=signposting,
            question=question,
        )
        await act(runtime, ref, "triage", decision)

    run(body)


@app.command()
def allocate(
    ref: Ref,
    practitioner: Annotated[
        str, typer.Argument(help="the practitioner's id, e.g. p-ana", callback=one_line_text)
    ],
    coordinator: Coordinator = DEFAULT_COORDINATOR,
) -> None:
    """coordinator: allocate to a practitioner"""

    async def body(runtime: Runtime) -> None:
        allocation = Allocation(practitioner_id=practitioner, coordinator=coordinator)
        await act(runtime, ref, "allocate", allocation)

    run(body)


@app.command()
def close(
    ref: Ref,
    reason: Annotated[ClosureReason, typer.Argument(help="why the referral is closed")],
    coordinator: Coordinator = DEFAULT_COORDINATOR,
) -> None:
    """coordinator: close the referral"""

    async def body(runtime: Runtime) -> None:
        await act(runtime, ref, "close", Closure(reason=reason, coordinator=coordinator))

    run(body)


@app.command("confirm_withdrawal")
def confirm_withdrawal(ref: Ref, coordinator: Coordinator = DEFAULT_COORDINATOR) -> None:
    """coordinator: confirm a client's withdrawal"""

    async def body(runtime: Runtime) -> None:
        confirmation = WithdrawalConfirmation(coordinator=coordinator)
        await act(runtime, ref, "confirm_withdrawal", confirmation)

    run(body)


@app.command()
def keep(ref: Ref, coordinator: Coordinator = DEFAULT_COORDINATOR) -> None:
    """coordinator: keep a silent client on the waiting list"""

    async def body(runtime: Runtime) -> None:
        await act(runtime, ref, "keep_on_waiting_list", coordinator)

    run(body)


@app.command()
def hold(
    ref: Ref,
    reason: Annotated[HoldReason, typer.Argument(help="why it is held back")],
    coordinator: Coordinator = DEFAULT_COORDINATOR,
) -> None:
    """coordinator: hold a referral back from automatic allocation"""

    async def body(runtime: Runtime) -> None:
        await act(runtime, ref, "hold", Hold(reason=reason, coordinator=coordinator))

    run(body)


@app.command()
def release(ref: Ref, coordinator: Coordinator = DEFAULT_COORDINATOR) -> None:
    """coordinator: release a hold"""

    async def body(runtime: Runtime) -> None:
        await act(runtime, ref, "release_hold", HoldRelease(coordinator=coordinator))

    run(body)


@app.command()
def remove(
    ref: Ref,
    reason: Annotated[RemovalReason, typer.Argument(help="why (the referrer and client are told)")],
    coordinator: Coordinator = DEFAULT_COORDINATOR,
) -> None:
    """coordinator: remove from the list after validation"""

    async def body(runtime: Runtime) -> None:
        removal = Removal(reason=reason, coordinator=coordinator)
        await act(runtime, ref, "remove_from_waiting_list", removal)

    run(body)
