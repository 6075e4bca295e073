"""Clients' messages and the coordinators' inbox: a message as SMS or email would bring it, a
text through the local Notify stand-in, the texts Harbour sent, crisis acknowledgements."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from cli.runner import (
    DEFAULT_COORDINATOR,
    CliError,
    Coordinator,
    free_text,
    one_line_text,
    print_json,
    run,
    warn_without_worker,
    with_worker,
)

if TYPE_CHECKING:
    from bootstrap import Runtime

app = typer.Typer()

Sender = Annotated[
    str,
    typer.Option("--from", help="the client's email or phone number", callback=one_line_text),
]


@app.command()
def message(
    sender: Sender,
    text: Annotated[str, typer.Argument(help="what the client wrote", callback=free_text)],
) -> None:
    """client: send a message as SMS/email would"""

    async def body(runtime: Runtime) -> None:
        from models.messages import Channel
        from services import inbound_messages

        settings = runtime.settings
        stored = await inbound_messages.receive(
            await runtime.client(),
            runtime.session_factory,
            runtime.pseudonym_key,
            runtime.keyring,
            channel=Channel.CLI,
            sender=sender,
            body=text,
            policy=settings.effective_policy(),
            task_queue=settings.task_queue,
        )
        print_json(stored)
        await warn_without_worker(runtime, "the message")

    run(body)


@app.command()
def text(
    sender: Annotated[str, typer.Option("--from", help="the phone number", callback=one_line_text)],
    text: Annotated[str, typer.Argument(help="what the client texted", callback=free_text)],
) -> None:
    """client: text Harbour from a phone (through the local Notify stand-in)"""

    async def body(runtime: Runtime) -> None:
        # A client's text as a phone sends it: into the Notify stand-in, which calls Harbour's
        # webhook exactly as GOV.UK Notify would.
        import httpx

        from bootstrap import DevstackSettings

        if runtime.settings.notify_api_key is not None:
            raise CliError(
                "`text` talks to the local Notify stand-in; Harbour uses the real Notify"
            )
        base = f"http://127.0.0.1:{DevstackSettings().notify_standin_port}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                answer = await http.post(
                    "/_standin/inbound", json={"from": sender, "message": text}
                )
        except httpx.HTTPError:
            raise CliError(
                f"the Notify stand-in does not answer at {base}: is `make run` running?"
            ) from None
        if answer.status_code >= 400:
            raise CliError(f"the Notify stand-in refused the text ({answer.status_code})")
        print_json({"texted": True, "from": sender})

    run(body)


@app.command()
def texts(
    to: Annotated[str | None, typer.Option(help="only those to this number")] = None,
) -> None:
    """show the texts Harbour sent (local Notify stand-in)"""

    async def body(runtime: Runtime) -> None:
        # The texts Harbour has sent to a number, as the phone would show them.
        from models.client_numbers import normalise_phone
        from readmodel.contacts import normalise_contact

        folder = runtime.settings.data_dir / "sms"
        try:
            wanted = normalise_phone(to) if to else None
        except ValueError:
            raise CliError(f"--to: {to!r} is not a phone number") from None
        shown = []
        for path in sorted(folder.glob("*.json")):
            record = json.loads(path.read_text())
            number = record.get("phone_number")
            # normalise_contact, not normalise_phone: a stored number it cannot read matches
            # nobody rather than stopping the listing.
            if wanted is None or (number and normalise_contact(number) == wanted):
                shown.append({k: record.get(k) for k in ("created_at", "phone_number", "body")})
        print_json(shown)

    run(body)


@app.command()
def acknowledge(
    message_id: Annotated[
        str, typer.Argument(help="the message's id, as the inbox and the alert show it")
    ],
    coordinator: Coordinator = DEFAULT_COORDINATOR,
) -> None:
    """coordinator: acknowledge a crisis alert (stops its escalation)"""

    async def body(runtime: Runtime) -> None:
        from services import inbound_messages

        acknowledged = await with_worker(
            runtime,
            lambda client: inbound_messages.acknowledge_crisis(client, message_id, coordinator),
        )
        print_json(acknowledged)

    run(body)


@app.command()
def inbox() -> None:
    """coordinator: messages waiting for a person"""

    async def body(runtime: Runtime) -> None:
        from readmodel.inbox import list_inbox

        print_json(await list_inbox(runtime.session_factory, runtime.keyring))

    run(body)
