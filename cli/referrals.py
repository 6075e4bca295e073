"""Referrers, and anyone on staff: submit a referral, answer a triage question, read a
referral's state and timeline (each read is recorded in the read audit, with the staff id)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.runner import (
    DEFAULT_COORDINATOR,
    CliError,
    Ref,
    act,
    free_text,
    print_json,
    run,
    warn_without_worker,
    with_worker,
)

if TYPE_CHECKING:
    from bootstrap import Runtime

app = typer.Typer()


@app.command()
def refer(
    file: Annotated[Path, typer.Argument(help="the referral as JSON, e.g. samples/referral.json")],
) -> None:
    """referrer: submit a referral from a JSON file (prints its reference)"""

    async def body(runtime: Runtime) -> None:
        from models.referral import ReferralEntry
        from services import referrals

        # Checked before Temporal is asked anything: a bad file changes nothing.
        submission = ReferralEntry.model_validate(
            json.loads(await asyncio.to_thread(file.read_text))
        )
        settings = runtime.settings
        ref = await referrals.submit(
            await runtime.client(),
            submission,
            settings.effective_policy(),
            task_queue=settings.task_queue,
        )
        # Staff find it by name, NHS number or phone once the worker records its receipt.
        print(ref)
        await warn_without_worker(runtime, "the referral")

    run(body)


@app.command()
def answer(
    ref: Ref,
    text: Annotated[
        str,
        typer.Argument(help="the referrer's answer to the triage question", callback=free_text),
    ],
) -> None:
    """referrer: answer a triage question"""

    async def body(runtime: Runtime) -> None:
        from models.actions import InformationAnswer

        await act(runtime, ref, "answer_information", InformationAnswer(answer=text))

    run(body)


Staff = Annotated[
    str, typer.Option("--staff", help="your staff id: recorded as who looked at the referral")
]


@app.command()
def state(ref: Ref, staff: Staff = DEFAULT_COORDINATOR) -> None:
    """anyone on staff: show a referral's state and timeline (the view is recorded)"""

    async def body(runtime: Runtime) -> None:
        from models.read_audit import AccessChannel
        from services import read_audit, referrals

        try:
            read_audit.check_staff_id(staff)
        except read_audit.InvalidStaffId as invalid:
            raise CliError(f"--staff: {invalid}") from None
        view = await with_worker(runtime, lambda client: referrals.read(client, ref))
        # Recorded before it is shown: a view that cannot be recorded is not shown.
        await read_audit.record_access(runtime.session_factory, ref, AccessChannel.CLI, staff)
        print_json(view)

    run(body)
