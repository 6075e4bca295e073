"""How a command runs: settings and the runtime from ``bootstrap``, the worker check before an
action, and every expected failure turned into one plain line on stderr (exit status 2 for
what was typed, 1 for what is not running).

Heavy modules (Temporal, SQLAlchemy, the services) are imported inside these functions, so
that ``starter.py --help`` does not load them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError
    from temporalio.client import Client

    from bootstrap import Runtime
    from models.referral import ReferralView

T = TypeVar("T")

# Exit statuses: what was typed is wrong (as argparse and click use), or something is down.
USAGE = 2
UNAVAILABLE = 1


def _text_rule(rule: Callable[[str], str]) -> Callable[[Any], Any]:
    """A typer callback that holds an option's or argument's text to ``rule`` (``models.text``):
    a usage error (exit status 2) naming the option and the rule, never the value."""

    def callback(value: Any) -> Any:
        from pydantic_core import PydanticCustomError

        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    rule(text)
                except PydanticCustomError as refused:
                    raise typer.BadParameter(refused.message()) from None
        return value

    return callback


def _one_line(value: str) -> str:
    from models.text import one_line

    return one_line(value)


def _free_text(value: str) -> str:
    from models.text import free_text

    return free_text(value)


# Typer callbacks for typed text: names, ids, places (one line), and notes (free text).
one_line_text = _text_rule(_one_line)
free_text = _text_rule(_free_text)

# Arguments and options that many commands share.
Ref = Annotated[
    str, typer.Argument(help="the referral reference, e.g. R7K2M9QX4PT", callback=one_line_text)
]
Coordinator = Annotated[
    str, typer.Option(help="the coordinator's staff id", callback=one_line_text)
]
DEFAULT_COORDINATOR = "c-cli"


class CliError(Exception):
    """A problem with what was typed: printed plainly, exit status 2."""


def print_json(value: Any) -> None:
    """Print a result as indented JSON on stdout (pydantic models as their JSON form)."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    print(json.dumps(value, indent=2, default=str))


def fail(message: str, status: int = USAGE) -> typer.Exit:
    """Print ``message`` on stderr; the ``typer.Exit`` to raise with ``status``."""
    print(message, file=sys.stderr)
    return typer.Exit(status)


def run(body: Callable[[Runtime], Awaitable[None]]) -> None:
    """Run ``body`` with a runtime (settings, keys, lazy client and engine) on a fresh event
    loop; an expected failure becomes one line on stderr and a non-zero exit."""
    from pydantic import ValidationError

    from bootstrap import configure_logging, load_settings, open_runtime
    from infra.keys import KeyConfigError

    try:
        settings = load_settings()
    except ValidationError as invalid:
        raise refuse_invalid(invalid, "setting ") from None
    # Output is JSON on stdout; only warnings go to stderr, so it pipes cleanly.
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))

    async def within_runtime() -> None:
        async with open_runtime(settings) as runtime:
            await body(runtime)

    try:
        asyncio.run(within_runtime())
    except KeyConfigError as error:
        raise fail(f"error: {error}", UNAVAILABLE) from None
    except Exception as error:
        explained = _explain(error)
        if explained is error:
            raise  # unexpected: cli.main's catch-all logs it and says so briefly
        raise explained from None


def _explain(error: Exception) -> Exception:
    """The ``typer.Exit`` for an expected failure (its line printed), or ``error`` itself."""
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError

    from infra.temporal import TemporalUnreachable
    from services.inbound_messages import NotACrisisAlert
    from services.referrals import ActionRejected, NotFound
    from services.worker_presence import WorkerUnavailable

    if isinstance(error, TemporalUnreachable):
        return fail(f"{error} — is `make run` running?", UNAVAILABLE)
    if isinstance(error, WorkerUnavailable):
        return fail(str(error), UNAVAILABLE)
    if isinstance(error, ActionRejected):
        return fail(f"rejected: {error.reason}")
    if isinstance(error, NotFound):
        return fail(f"no referral {error}")
    if isinstance(error, ValidationError):
        return refuse_invalid(error)
    if isinstance(error, OperationalError):
        # Not the driver's text: it can quote the statement and its values.
        return fail(
            "error: the database could not be used (missing, locked or not migrated): "
            "`make run` creates and migrates it",
            UNAVAILABLE,
        )
    if isinstance(error, CliError | NotACrisisAlert | FileNotFoundError | json.JSONDecodeError):
        return fail(f"error: {error}")
    return error


def refuse_invalid(invalid: ValidationError, what: str = "") -> typer.Exit:
    """Print each invalid field and its message on stderr; the ``typer.Exit`` to raise."""
    # Field and message only: pydantic's own text repeats the input, which may be personal.
    for error in invalid.errors():
        where = ".".join(str(p) for p in error["loc"]) or "input"
        print(f"invalid {what}{where}: {error['msg']}", file=sys.stderr)
    return typer.Exit(USAGE)


async def with_worker(runtime: Runtime, call: Callable[[Client], Awaitable[T]]) -> T:
    """``call`` with the client, once a worker is known to poll the task queue, and bounded
    by ``settings.worker_wait_seconds`` (``services.worker_presence``)."""
    from services.worker_presence import with_worker as bounded

    settings = runtime.settings
    return await bounded(
        await runtime.client(), settings.task_queue, settings.worker_wait_seconds, call
    )


async def warn_without_worker(runtime: Runtime, what: str) -> None:
    """Say on stderr when no worker polls the task queue: ``what`` is durable, but nothing
    will happen to it until one starts."""
    from temporalio.service import RPCError

    from infra.temporal import has_workflow_pollers

    queue = runtime.settings.task_queue
    try:
        idle = await has_workflow_pollers(await runtime.client(), queue) is False
    except RPCError:
        return  # only a note: a server that cannot say does not stop the command
    if idle:
        print(
            f"note: no Harbour worker is running (task queue {queue!r}): {what} is kept, and "
            "is acted on once one starts (`make run`, or `python worker.py`)",
            file=sys.stderr,
        )


async def act(runtime: Runtime, ref: str, action: str, arg: BaseModel | str) -> ReferralView:
    """Run a staff action on a referral (an update of its workflow) and print the new state."""
    from services import referrals

    view = await with_worker(runtime, lambda client: referrals.act(client, ref, action, arg))
    print_json(view)
    return view
