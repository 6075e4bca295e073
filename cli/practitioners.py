"""Coordinators' register of practitioners: add or change one, list them with their
caseloads. Checked with the model the API uses (``models.practitioner``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.runner import print_json, run

if TYPE_CHECKING:
    from bootstrap import Runtime

app = typer.Typer()


@app.command()
def add(
    id: Annotated[str, typer.Argument(help="the practitioner's id, e.g. p-ana")],
    name: Annotated[str, typer.Option(help="their name, as clients are told it")],
    email: Annotated[str, typer.Option(help="their work email (allocations are sent there)")],
    capacity: Annotated[int, typer.Option(help="active episodes at most")],
    on_leave: Annotated[
        bool, typer.Option("--on-leave", help="on leave: allocated nobody new")
    ] = False,
) -> None:
    """add or update a practitioner"""

    async def body(runtime: Runtime) -> None:
        from models.practitioner import PractitionerChange
        from readmodel.practitioners import list_practitioners
        from services import practitioners

        # The API's check, before anything is stored or Temporal is asked.
        change = PractitionerChange(
            id=id, name=name, email=email, capacity=capacity, active=not on_leave
        )
        settings = runtime.settings
        policy = settings.effective_policy()
        await practitioners.save(
            await runtime.client() if policy.auto_allocate else None,
            runtime.session_factory,
            task_queue=settings.task_queue,
            id=change.id,
            name=change.name,
            email=str(change.email),
            capacity=change.capacity,
            active=change.active,
            auto_allocate=policy.auto_allocate,
            sweep_every=settings.allocator_sweep_every,
        )
        print_json(await list_practitioners(runtime.session_factory))

    run(body)


@app.command("list")
def list_() -> None:
    """list practitioners and how full their caseloads are"""

    async def body(runtime: Runtime) -> None:
        from readmodel.practitioners import list_practitioners

        print_json(await list_practitioners(runtime.session_factory))

    run(body)
