"""Administrators' HTTP API keys (``services.api_keys``): create one (shown once), list them
(never the keys themselves), revoke one at once."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cli.runner import CliError, print_json, run
from models.roles import Role

if TYPE_CHECKING:
    from bootstrap import Runtime

app = typer.Typer()


@app.command()
def create(
    role: Annotated[Role, typer.Option(help="what the key may do")],
    organisation: Annotated[
        str | None, typer.Option(help="a referrer's organisation (referrers only)")
    ] = None,
    practitioner: Annotated[
        str | None, typer.Option(help="the practitioner's id (practitioners only)")
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="an opaque staff id or integration name, not a name")
    ] = None,
) -> None:
    """create a key; it is printed once"""

    async def body(runtime: Runtime) -> None:
        from services.api_keys import create_api_key

        try:
            info, key = await create_api_key(
                runtime.session_factory,
                role,
                organisation=organisation,
                practitioner_id=practitioner,
                label=label,
            )
        except ValueError as error:
            raise CliError(str(error)) from None
        print_json({**info.model_dump(mode="json"), "key": key})
        print("Store the key now: it is shown only this once.", file=sys.stderr)

    run(body)


@app.command("list")
def list_() -> None:
    """list keys (never the keys themselves)"""

    async def body(runtime: Runtime) -> None:
        from services.api_keys import list_api_keys

        print_json(await list_api_keys(runtime.session_factory))

    run(body)


@app.command()
def revoke(id: Annotated[str, typer.Argument(help="the key's id, as listed")]) -> None:
    """revoke a key at once"""

    async def body(runtime: Runtime) -> None:
        from services.api_keys import revoke_api_key

        if not await revoke_api_key(runtime.session_factory, id):
            raise CliError(f"no API key {id}")
        print(f"revoked {id}")

    run(body)
