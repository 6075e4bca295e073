"""Drive Harbour from the command line, as each actor would.

    python starter.py refer samples/referral.json
    python starter.py triage R… accept
    python starter.py practitioner add p-ana --name "Ana Lowry" --email ana@… --capacity 8
    python starter.py allocate R… p-ana
    python starter.py book R… --in-days 2 --where café
    python starter.py session R… attended --liaison housing
    python starter.py reqol R… baseline --responses 2,2,2,2,2,2,2,2,2,2
    python starter.py discharge R… completed --summary "…"
    python starter.py message --from alex.morgan@example.org "I'd like to come back"
    python starter.py state R…
    python starter.py apikey create --role referrer --organisation "Harbourside GP"
    python starter.py apikey list
    python starter.py apikey revoke 3f9c0a1b2c3d4e5f

Run ``python starter.py --help`` (or ``<command> --help``) for every option.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from infra.database import make_engine, make_session_factory
from infra.keys import load_keyring, load_pseudonym_key
from infra.logging import configure_logging
from infra.temporal import connect
from models.actions import (
    Allocation,
    Closure,
    ClosureReason,
    DeclineReason,
    Discharge,
    DischargeReason,
    Extension,
    Hold,
    HoldReason,
    HoldRelease,
    InformationAnswer,
    Removal,
    RemovalReason,
    ReqolSubmission,
    ReqolWhen,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
    WithdrawalConfirmation,
)
from models.messages import Channel
from models.referral import LiaisonKind, ReferralSubmission, SessionOutcome, normalise_phone
from models.settings import Settings
from readmodel.inbox import list_inbox
from readmodel.practitioners import list_practitioners
from services import inbound_messages, practitioners, referrals


class CliError(Exception):
    """A problem with what was typed: printed plainly, exit status 2."""


def _print(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    print(json.dumps(value, indent=2, default=str))


def _responses(text: str) -> dict[int, int]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all("=" in p for p in parts):
            return {int(k): int(v) for k, v in (p.split("=", 1) for p in parts)}
        return {i: int(v) for i, v in enumerate(parts, start=1)}
    except ValueError:
        raise CliError("--responses takes ten numbers 0–4, e.g. 2,3,1,4,2,2,3,1,2,3") from None


def _when(args: argparse.Namespace) -> datetime:
    if args.at:
        at = datetime.fromisoformat(args.at)
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime.now(UTC) + timedelta(days=args.in_days)


async def _run(args: argparse.Namespace, settings: Settings) -> None:
    client: Client | None = None
    engine = None

    async def temporal() -> Client:
        nonlocal client
        if client is None:
            client = await connect(settings, load_keyring(settings))
        return client

    def sessions() -> Any:
        nonlocal engine
        engine = make_engine(settings.database_url)
        return make_session_factory(engine)

    async def act(action: str, arg: BaseModel | str) -> None:
        _print(await referrals.act(await temporal(), args.ref, action, arg))

    handlers: dict[str, Callable[[], Awaitable[None]]] = {}

    async def refer() -> None:
        data = json.loads(await asyncio.to_thread(Path(args.file).read_text))
        submission = ReferralSubmission.model_validate(data)
        ref = await referrals.submit(
            await temporal(),
            submission,
            settings.effective_policy(),
            task_queue=settings.task_queue,
        )
        print(ref)

    async def triage() -> None:
        outcome = {
            "accept": TriageOutcome.ACCEPT,
            "decline": TriageOutcome.DECLINE,
            "ask": TriageOutcome.REQUEST_INFORMATION,
        }[args.outcome]
        await act(
            "triage",
            TriageDecision(
                outcome=outcome,
                coordinator=args.coordinator,
                decline_reason=DeclineReason(args.reason) if args.reason else None,
                signposting=args.signposting,
                question=args.question,
            ),
        )

    async def answer() -> None:
        await act("answer_information", InformationAnswer(answer=args.text))

    async def practitioner() -> None:
        factory = sessions()
        if args.practitioner_command == "add":
            policy = settings.effective_policy()
            await practitioners.save(
                await temporal() if policy.auto_allocate else None,
                factory,
                task_queue=settings.task_queue,
                id=args.id,
                name=args.name,
                email=args.email,
                capacity=args.capacity,
                active=not args.on_leave,
                sweep_every=settings.allocator_sweep_every,
            )
        _print(
            [
                p.model_dump(mode="json") if isinstance(p, BaseModel) else p
                for p in await list_practitioners(factory)
            ]
        )

    async def allocate() -> None:
        await act(
            "allocate", Allocation(practitioner_id=args.practitioner, coordinator=args.coordinator)
        )

    async def book() -> None:
        await act("book_session", SessionBooking(at=_when(args), location=args.where))

    async def session() -> None:
        await act(
            "record_session",
            SessionRecord(
                outcome=SessionOutcome(args.outcome),
                session_id=args.session_id,
                location=args.where or "not recorded",
                liaison=[LiaisonKind(k) for k in args.liaison],
            ),
        )

    async def reqol() -> None:
        await act(
            "record_reqol",
            ReqolSubmission(
                when=ReqolWhen(args.when),
                responses=_responses(args.responses) if args.responses else None,
                physical_health=args.physical_health,
                skipped_reason=args.skip,
            ),
        )

    async def extend() -> None:
        await act("extend", Extension(planned_sessions=args.planned_sessions))

    async def discharge() -> None:
        await act("discharge", Discharge(reason=DischargeReason(args.reason), summary=args.summary))

    async def close() -> None:
        await act("close", Closure(reason=ClosureReason(args.reason), coordinator=args.coordinator))

    async def confirm_withdrawal() -> None:
        await act("confirm_withdrawal", WithdrawalConfirmation(coordinator=args.coordinator))

    async def keep() -> None:
        await act("keep_on_waiting_list", args.coordinator)

    async def hold() -> None:
        await act("hold", Hold(reason=HoldReason(args.reason), coordinator=args.coordinator))

    async def release() -> None:
        await act("release_hold", HoldRelease(coordinator=args.coordinator))

    async def remove() -> None:
        await act(
            "remove_from_waiting_list",
            Removal(reason=RemovalReason(args.reason), coordinator=args.coordinator),
        )

    async def message() -> None:
        stored = await inbound_messages.receive(
            await temporal(),
            sessions(),
            load_pseudonym_key(settings),
            channel=Channel.CLI,
            sender=args.sender,
            body=args.text,
            policy=settings.effective_policy(),
            task_queue=settings.task_queue,
        )
        _print(stored)

    async def text() -> None:
        # A client's text as a phone sends it: into the Notify stand-in, which calls Harbour's
        # webhook exactly as GOV.UK Notify would.
        import httpx

        from devstack import DevstackSettings

        if settings.notify_api_key is not None:
            raise CliError(
                "`text` talks to the local Notify stand-in; Harbour uses the real Notify"
            )
        base = f"http://127.0.0.1:{DevstackSettings().notify_standin_port}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                answer = await http.post(
                    "/_standin/inbound", json={"from": args.sender, "message": args.text}
                )
        except httpx.HTTPError:
            raise CliError(
                f"the Notify stand-in does not answer at {base}: is `make run` running?"
            ) from None
        if answer.status_code >= 400:
            raise CliError(f"the Notify stand-in refused the text ({answer.status_code})")
        _print({"texted": True, "from": args.sender})

    async def texts() -> None:
        # The texts Harbour has sent to a number, as the phone would show them.
        folder = settings.data_dir / "sms"
        try:
            wanted = normalise_phone(args.to) if args.to else None
        except ValueError:
            raise CliError(f"--to: {args.to!r} is not a phone number") from None
        shown = []
        for path in sorted(folder.glob("*.json")):
            record = json.loads(path.read_text())
            number = record.get("phone_number")
            if wanted is None or (number and normalise_phone(number) == wanted):
                shown.append({k: record.get(k) for k in ("created_at", "phone_number", "body")})
        _print(shown)

    async def acknowledge() -> None:
        try:
            _print(
                await inbound_messages.acknowledge_crisis(
                    await temporal(), args.message_id, args.coordinator
                )
            )
        except inbound_messages.NotACrisisAlert as error:
            raise CliError(str(error)) from None

    async def apikey() -> None:
        from api.auth import create_api_key, list_api_keys, revoke_api_key

        factory = sessions()
        if args.apikey_command == "create":
            try:
                info, key = await create_api_key(
                    factory,
                    args.role,
                    organisation=args.organisation,
                    practitioner_id=args.practitioner,
                    label=args.label,
                )
            except ValueError as error:
                raise CliError(str(error)) from None
            _print({**info.model_dump(mode="json"), "key": key})
            print("Store the key now: it is shown only this once.", file=sys.stderr)
        elif args.apikey_command == "list":
            _print([k.model_dump(mode="json") for k in await list_api_keys(factory)])
        elif not await revoke_api_key(factory, args.id):
            raise CliError(f"no API key {args.id}")
        else:
            print(f"revoked {args.id}")

    async def state() -> None:
        _print(await referrals.read(await temporal(), args.ref))

    async def inbox() -> None:
        _print(
            [
                m.model_dump(mode="json") if isinstance(m, BaseModel) else m
                for m in await list_inbox(sessions())
            ]
        )

    handlers.update(
        refer=refer,
        hold=hold,
        release=release,
        remove=remove,
        triage=triage,
        answer=answer,
        practitioner=practitioner,
        allocate=allocate,
        book=book,
        session=session,
        reqol=reqol,
        extend=extend,
        discharge=discharge,
        close=close,
        confirm_withdrawal=confirm_withdrawal,
        keep=keep,
        message=message,
        text=text,
        texts=texts,
        acknowledge=acknowledge,
        state=state,
        inbox=inbox,
        apikey=apikey,
    )
    try:
        await handlers[args.command]()
    finally:
        if engine is not None:
            await engine.dispose()


def _add_simulate_parser(sub: Any) -> None:
    """``simulate``: a year of the waiting list, and the same year with one more practitioner."""
    from services.simulation import SimulationInput

    d = SimulationInput()
    sim = sub.add_parser(
        "simulate",
        help="coordinator: simulate waits over the next year, and with one more practitioner",
        description="A discrete-event simulation using the service's own allocation rules and "
        "wait estimate (docs/simulation.md). Nothing is read or written: no Temporal, no database.",
    )
    arg = sim.add_argument
    arg("--weeks", type=int, help=f"how long to simulate (default {d.duration_weeks})")
    arg("--seed", type=int, help=f"random seed; the same seed gives the same year ({d.seed})")
    arg("--arrivals-per-week", type=float, help=f"referrals received ({d.arrivals_per_week:g})")
    arg("--urgent", type=float, help=f"share urgent ({d.share_urgent:g})")
    arg("--soon", type=float, help=f"share soon; routine is the rest ({d.share_soon:g})")
    arg("--acceptance", type=float, help=f"share accepted at triage ({d.acceptance_rate:g})")
    arg("--triage-days", type=float, help=f"mean days from referral to triage ({d.triage_days:g})")
    who = sim.add_mutually_exclusive_group()
    who.add_argument("--practitioners", type=int, help=f"how many ({d.practitioners})")
    who.add_argument("--capacities", help="each practitioner's capacity, e.g. 20,20,15")
    arg("--capacity", type=int, help=f"places per practitioner with --practitioners ({d.capacity})")
    arg("--sessions", help=f"sessions per episode, MIN-MAX ({d.sessions_min}-{d.sessions_max})")
    arg("--sessions-per-week", type=float, help=f"sessions a week ({d.sessions_per_week:g})")
    arg("--episode-weeks", help="episode length as MEAN[,SD] weeks instead of --sessions")
    arg("--reentry-rate", type=float, help=f"share discharged who come back ({d.reentry_rate:g})")
    arg("--reentry-weeks", type=float, help=f"mean weeks before they do ({d.reentry_mean_weeks:g})")
    arg("--initial-waiting", type=int, help=f"already on the list ({d.initial_waiting})")
    arg("--initial-caseload", type=float, help=f"share of places in use ({d.initial_caseload:g})")
    arg("--standard-weeks", type=float, help="the waiting standard in weeks (policy: 4)")
    arg("--extra-capacity", type=int, help="places of the added practitioner (median)")
    arg("--json", action="store_true", help="print both results as JSON instead of a table")


def _simulate(args: argparse.Namespace) -> int:
    """Run ``simulate``: print baseline and +1 practitioner side by side."""
    from services.simulation import SimulationInput, compare, format_comparison

    given: dict[str, Any] = {
        "duration_weeks": args.weeks,
        "seed": args.seed,
        "arrivals_per_week": args.arrivals_per_week,
        "share_urgent": args.urgent,
        "share_soon": args.soon,
        "acceptance_rate": args.acceptance,
        "triage_days": args.triage_days,
        "practitioners": args.practitioners,
        "capacity": args.capacity,
        "sessions_per_week": args.sessions_per_week,
        "reentry_rate": args.reentry_rate,
        "reentry_mean_weeks": args.reentry_weeks,
        "initial_waiting": args.initial_waiting,
        "initial_caseload": args.initial_caseload,
    }
    try:
        if args.capacities:
            given["practitioners"] = [int(c) for c in args.capacities.split(",")]
        if args.sessions:
            low, _, high = args.sessions.partition("-")
            given["sessions_min"], given["sessions_max"] = int(low), int(high or low)
        if args.episode_weeks:
            mean, _, sd = args.episode_weeks.partition(",")
            given["episode_mean_weeks"] = float(mean)
            if sd:
                given["episode_sd_weeks"] = float(sd)
        if args.standard_weeks is not None:
            given["waiting_standard"] = timedelta(weeks=args.standard_weeks)
    except ValueError:
        print("error: --capacities, --sessions and --episode-weeks take numbers", file=sys.stderr)
        return 2
    try:
        spec = SimulationInput.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as invalid:
        for error in invalid.errors():
            where = ".".join(str(p) for p in error["loc"]) or "input"
            print(f"invalid {where}: {error['msg']}", file=sys.stderr)
        return 2
    baseline, plus_one = compare(spec, extra_capacity=args.extra_capacity)
    if args.json:
        _print([r.model_dump(mode="json", exclude={"trace"}) for r in (baseline, plus_one)])
    else:
        print(format_comparison([baseline, plus_one]))
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per action of an actor."""
    p = argparse.ArgumentParser(
        prog="starter.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)

    def with_ref(name: str, help: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help)
        cmd.add_argument("ref", help="the referral reference, e.g. R7K2M9QX4PT")
        return cmd

    def coordinator(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--coordinator", default="c-cli", help="the coordinator's staff id")

    refer = sub.add_parser("refer", help="referrer: submit a referral from a JSON file")
    refer.add_argument("file")
    triage = with_ref("triage", "coordinator: accept, decline or ask the referrer")
    triage.add_argument("outcome", choices=["accept", "decline", "ask"])
    triage.add_argument("--reason", choices=[r.value for r in DeclineReason])
    triage.add_argument("--signposting", help="other services suggested (decline)")
    triage.add_argument("--question", help="what to ask the referrer (ask)")
    coordinator(triage)
    answer = with_ref("answer", "referrer: answer a triage question")
    answer.add_argument("text")
    prac = sub.add_parser("practitioner", help="coordinator: manage practitioners")
    prac_sub = prac.add_subparsers(dest="practitioner_command", required=True)
    add = prac_sub.add_parser("add", help="add or update a practitioner")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--capacity", type=int, required=True, help="active episodes at most")
    add.add_argument("--on-leave", action="store_true")
    prac_sub.add_parser("list", help="list practitioners")
    allocate = with_ref("allocate", "coordinator: allocate to a practitioner")
    allocate.add_argument("practitioner")
    coordinator(allocate)
    book = with_ref("book", "practitioner: book a session")
    when = book.add_mutually_exclusive_group()
    when.add_argument("--at", help="ISO date-time, e.g. 2026-12-01T10:00")
    when.add_argument("--in-days", type=float, default=2.0)
    book.add_argument("--where", default="café")
    session = with_ref("session", "practitioner: record a session")
    session.add_argument("outcome", choices=[o.value for o in SessionOutcome])
    session.add_argument("--session-id", help="a booked session's id")
    session.add_argument("--where")
    session.add_argument(
        "--liaison", action="append", default=[], choices=[k.value for k in LiaisonKind]
    )
    reqol = with_ref("reqol", "practitioner: record ReQoL-10 (or skip it with a reason)")
    reqol.add_argument("when", choices=[w.value for w in ReqolWhen])
    given = reqol.add_mutually_exclusive_group(required=True)
    given.add_argument("--responses", help="ten responses 0–4 in item order, as answered")
    given.add_argument("--skip", help="why the measure was not asked")
    reqol.add_argument("--physical-health", type=int)
    extend = with_ref("extend", "practitioner: extend the plan of sessions")
    extend.add_argument("planned_sessions", type=int)
    discharge = with_ref("discharge", "practitioner: discharge")
    discharge.add_argument("reason", choices=[r.value for r in DischargeReason])
    discharge.add_argument("--summary", required=True)
    close = with_ref("close", "coordinator: close the referral")
    close.add_argument("reason", choices=[r.value for r in ClosureReason])
    coordinator(close)
    coordinator(with_ref("confirm_withdrawal", "coordinator: confirm a client's withdrawal"))
    coordinator(with_ref("keep", "coordinator: keep a silent client on the waiting list"))
    hold = with_ref("hold", "coordinator: hold a referral back from automatic allocation")
    hold.add_argument("reason", choices=[r.value for r in HoldReason])
    coordinator(hold)
    coordinator(with_ref("release", "coordinator: release a hold"))
    remove = with_ref("remove", "coordinator: remove from the list after validation")
    remove.add_argument("reason", choices=[r.value for r in RemovalReason])
    coordinator(remove)
    message = sub.add_parser("message", help="client: send a message as SMS/email would")
    message.add_argument("--from", dest="sender", required=True, help="email or phone")
    message.add_argument("text")
    text = sub.add_parser(
        "text", help="client: text Harbour from a phone (through the local Notify stand-in)"
    )
    text.add_argument("--from", dest="sender", required=True, help="the phone number")
    text.add_argument("text")
    texts = sub.add_parser("texts", help="show the texts Harbour sent (local Notify stand-in)")
    texts.add_argument("--to", help="only those to this number")
    ack = sub.add_parser(
        "acknowledge", help="coordinator: acknowledge a crisis alert (stops its escalation)"
    )
    ack.add_argument("message_id", help="the message's id, as the inbox and the alert show it")
    coordinator(ack)
    with_ref("state", "anyone on staff: show a referral's state and timeline")
    sub.add_parser("inbox", help="coordinator: messages waiting for a person")
    keys = sub.add_parser("apikey", help="administrator: HTTP API keys (stored hashed)")
    keys_sub = keys.add_subparsers(dest="apikey_command", required=True)
    create = keys_sub.add_parser("create", help="create a key; it is printed once")
    create.add_argument(
        "--role", required=True, choices=["referrer", "coordinator", "practitioner", "gateway"]
    )
    create.add_argument("--organisation", help="a referrer's organisation (referrers only)")
    create.add_argument("--practitioner", help="the practitioner's id (practitioners only)")
    create.add_argument("--label", help="an opaque staff id or integration name, not a name")
    keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id", help="the key's id, as listed")
    _add_simulate_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "simulate":  # a pure simulation: no settings, Temporal or database
        return _simulate(args)
    settings = Settings()
    # Output is JSON on stdout; only warnings go to stderr, so it pipes cleanly.
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    try:
        asyncio.run(_run(args, settings))
    except referrals.ActionRejected as rejected:
        print(f"rejected: {rejected.reason}", file=sys.stderr)
        return 2
    except referrals.NotFound as missing:
        print(f"no referral {missing}", file=sys.stderr)
        return 2
    except ValidationError as invalid:
        for error in invalid.errors():
            where = ".".join(str(p) for p in error["loc"]) or "input"
            print(f"invalid {where}: {error['msg']}", file=sys.stderr)
        return 2
    except (CliError, FileNotFoundError, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    status = main()
    # Everything is done and the database engine disposed; skip interpreter finalisation,
    # where the Temporal client's Rust threads can abort the process (sdk-python issue 300:
    # "PyGILState_Release ... must be current") after the command has already succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
