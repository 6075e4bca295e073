"""The dashboard's pages (GET): Overview, Referrals, Referral, Waiting list, Caseloads, Inbox,
Reports and the dev mailbox.

Each page reads the read model with a handful of aggregate or indexed queries; only the
Referral page asks a workflow for its state (once), and a practitioner's Caseload page each of
their clients' workflows for the booked sessions (``services.practice``, the same diary the
practitioner sees). Pages show references, stages, codes and
counts; the inbox shows clients' messages because coordinators are there to read them.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlencode

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from markupsafe import Markup
from temporalio.service import RPCError

from api.context import get_context
from api.dashboard import charts, mailbox
from api.dashboard.charts import Marker, Series
from api.dashboard.session import DashboardUser
from api.dashboard.state import STATIC, get_state
from api.dashboard.web import (
    DashboardRoute,
    PageError,
    current_user,
    posted_form,
    redirect,
    render,
)
from models.actions import (
    ClosureReason,
    DeclineReason,
    HoldReason,
    RemovalReason,
    TriageOutcome,
)
from models.diary import arrange_diary
from models.inbox_replies import REPLY_LABELS
from models.pathway import TRIAGE_STAGES, WITHDRAWABLE_STAGES
from models.practitioner import ID_PATTERN
from models.read_audit import AccessChannel
from models.records import Practitioner
from models.referral import REFERENCE_PATTERN, ReferralSubmission, ReferralView, Stage, Urgency
from readmodel import crisis_alerts, referral_records, reports
from readmodel import inbox as inbox_queries
from readmodel import overview as overview_queries
from readmodel import read_audit as read_audit_queries
from readmodel import referrals as referral_queries
from readmodel.caseloads import caseload_entries, caseload_lines
from readmodel.person_search import find_people
from readmodel.practitioners import list_practitioners
from readmodel.referrals import ReferralFilters, count_referrals, referral_exists
from readmodel.timeline import get_timeline
from readmodel.waiting_list import (
    WaitingFilters,
    returning_clients,
    waiting_page,
    with_current_standing,
)
from services import practice, referrals
from services.person_display import (
    NotAllowedToSee,
    PersonUnavailable,
    load_person_for_display,
    names_for_display,
)
from services.read_audit import record_access
from services.worker_presence import WorkerUnavailable

router = APIRouter(route_class=DashboardRoute)
log = structlog.get_logger("harbour.dashboard")

User = Annotated[DashboardUser, Depends(current_user)]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
_STATIC_FILES = {"dashboard.css": "text/css; charset=utf-8"}
# The referral page lists this many of the latest views (the API lists them all).
VIEWS_SHOWN = 20


# ---------------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Pager:
    """Which page of how many, and links to the others (other query values kept)."""

    page: int
    size: int
    total: int
    base: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def first_item(self) -> int:
        return 0 if self.total == 0 else self.offset + 1

    @property
    def last_item(self) -> int:
        return min(self.total, self.offset + self.size)

    def url(self, page: int) -> str:
        query = [*(p for p in self.params if p[1]), ("page", str(page))]
        return f"{self.base}?{urlencode(query)}"


def _flag(value: str | None) -> bool | None:
    """A yes/no filter from a query value; anything else means either."""
    return {"yes": True, "no": False}.get((value or "").lower())


async def _now(request: Request) -> datetime:
    return await get_state(request).clock()


def _week_label(start: datetime, zone: object) -> str:
    return start.astimezone(zone).strftime("%-d %b")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- overview


@router.get("")
async def overview(request: Request, user: User) -> Response:
    """Counts per stage, demand against capacity, the list over time, queues to look at."""
    state = get_state(request)
    now = await _now(request)
    context = get_context(request)
    async with context.session_factory() as session:
        figures = await overview_queries.overview(session, now, state.zone)
        alerts = await crisis_alerts.open_alerts(session, context.keyring)
    labels = [_week_label(s, state.zone) for s in figures.week_starts]
    demand = charts.bar_chart(
        title="Referrals in and allocations out, per week",
        description=(
            f"Referrals received and episodes allocated in each of the last {len(labels)} "
            "weeks (this week so far last)."
        ),
        labels=labels,
        series=[
            Series("referrals in", figures.referrals_in, charts.NAVY),
            Series("allocations out", figures.allocations_out, charts.AMBER),
        ],
        unit="per week",
        head="week starting",
        label_every=4,
    )
    length = charts.line_chart(
        title="Waiting list length",
        description=(
            "How many were waiting at the end of each week (now, for this week), "
            "reconstructed from acceptances, allocations and closures."
        ),
        labels=labels,
        series=[Series("waiting", figures.waiting_length, charts.TEAL)],
        unit="waiting",
        head="week starting",
        label_every=4,
    )
    return render(
        request,
        "overview.html",
        user,
        nav="overview",
        figures=figures,
        alerts=alerts,
        demand_chart=demand,
        length_chart=length,
        stages=list(Stage),
        now=now,
    )


# -------------------------------------------------------------------------------- referrals


@router.get("/referrals")
async def referral_list(
    request: Request,
    user: User,
    stage: str | None = None,
    ref: Annotated[str | None, Query(max_length=100)] = None,
    page: PageNumber = 1,
) -> Response:
    """Find a referral by reference or by the person (name, NHS number or phone, through the
    blind index), or list referrals (newest first), optionally by stage."""
    context = get_context(request)
    state = get_state(request)
    searched = (ref or "").strip()
    if searched:
        return await _search(request, user, searched)
    chosen = stage if stage in {s.value for s in Stage} else None
    size = state.settings.page_size
    async with context.session_factory() as session:
        filters = ReferralFilters(stage=Stage(chosen) if chosen else None)
        listed = await referral_queries.referral_list(
            session, filters, limit=size, offset=(page - 1) * size
        )
        rows, total = listed.items, await count_referrals(session, filters)
        crisis = await crisis_alerts.refs_in_crisis(session, (r.ref for r in rows))
    pager = Pager(page, size, total, "/dashboard/referrals", (("stage", chosen or ""),))
    return render(
        request,
        "referrals.html",
        user,
        nav="referrals",
        rows=rows,
        crisis=crisis,
        pager=pager,
        stage=chosen,
        stages=list(Stage),
        searched=None,
    )


@router.post("/referrals/search")
async def search(request: Request, user: User) -> Response:
    """The header's search box: a reference opens its referral; a name, NHS number or phone
    number lists the referrals of the people it finds. Posted, so that what was typed (a
    person's name or number) never sits in an address, the browser's history or a log."""
    form = await posted_form(request, user)
    searched = form.get("ref")[:100]
    if not searched:
        return redirect(request, "/dashboard/referrals")
    return await _search(request, user, searched)


async def _search(request: Request, user: DashboardUser, searched: str) -> Response:
    """A reference found: its page; otherwise the people found through the blind index."""
    context = get_context(request)
    async with context.session_factory() as session:
        reference = searched.upper()
        if re.match(REFERENCE_PATTERN, reference) and await referral_exists(session, reference):
            return redirect(request, f"/dashboard/referrals/{reference}")
        found = await find_people(session, context.pseudonym_key, searched)
        rows = await referral_queries.referral_summaries(session, found)
        crisis = await crisis_alerts.refs_in_crisis(session, (r.ref for r in rows))
    # The names let the coordinator tell the people found apart; each look is audited.
    names: dict[str, str] | None = {}
    try:
        if rows:
            names = await context.ask(
                lambda: names_for_display(
                    context.client,
                    context.session_factory,
                    [r.ref for r in rows],
                    user.principal,
                    AccessChannel.DASHBOARD,
                )
            )
    except (TimeoutError, RPCError, WorkerUnavailable) as error:
        log.warning("search names unavailable", error_type=type(error).__name__)
        names = None
    return render(
        request,
        "referrals.html",
        user,
        nav="referrals",
        rows=rows,
        crisis=crisis,
        pager=Pager(1, max(1, len(rows)), len(rows), "/dashboard/referrals"),
        stage=None,
        stages=list(Stage),
        searched=searched,
        names=names,
    )


def available_actions(view: ReferralView) -> set[str]:
    """The coordinator actions that fit the referral now (the workflow's validators have the
    last word; ``models.pathway`` has the rules)."""
    stage = view.stage
    actions: set[str] = set()
    if stage == Stage.TRIAGE:
        actions.add("triage")
    if stage == Stage.WAITING:
        actions.add("allocate")
        actions.add("release_hold" if view.held_reason else "hold")
        if view.in_validation_queue:
            actions.add("validation")
    if stage in WITHDRAWABLE_STAGES:
        actions.add("withdrawal")
    if stage not in (Stage.CLOSED, Stage.RECEIVED):
        actions.add("close")
    return actions


async def practitioners_with_room(request: Request, first: str | None = None) -> list[Practitioner]:
    """Active practitioners with a free place, ``first`` (a returning client's own) first."""
    found = [
        p
        for p in await list_practitioners(get_context(request).session_factory, active_only=True)
        if p.caseload < p.capacity
    ]
    return sorted(found, key=lambda p: (p.id != first, p.id))


@dataclass(frozen=True)
class FormFieldError:
    """One problem with a posted form, in a coordinator's words, linked to its field."""

    field: str  # the id of the field the error summary links to
    message: str


@dataclass(frozen=True)
class FormEcho:
    """A form posted with problems: what was chosen and typed (shown again), and why not."""

    errors: tuple[FormFieldError, ...]
    values: dict[str, str]


@router.get("/referrals/{ref}")
async def referral(
    request: Request,
    user: User,
    ref: Annotated[str, PathParam(pattern=REFERENCE_PATTERN)],
) -> Response:
    """One referral: the person (audited), the workflow's state, crisis alerts, the whole
    timeline, letters, sessions, liaison, who has looked at it (this view included: it is
    recorded first) and the actions that fit its stage."""
    return await referral_page(request, user, ref)


async def referral_page(
    request: Request,
    user: DashboardUser,
    ref: str,
    *,
    triage: FormEcho | None = None,
    status: int = 200,
) -> Response:
    """The referral's page; with ``triage``, the triage form as posted and its errors."""
    context = get_context(request)

    async def view_and_person() -> tuple[ReferralView, ReferralSubmission | None]:
        view = await referrals.read(context.client, ref)
        try:
            # The view is audited inside, before the person is asked for.
            person = await load_person_for_display(
                context.client,
                context.session_factory,
                ref,
                user.principal,
                AccessChannel.DASHBOARD,
                practitioner_id=view.practitioner_id,
            )
        except PersonUnavailable:
            person = None  # the rest of the page still helps; the card says why it is missing
        return view, person

    try:
        view, person = await context.ask(view_and_person)
    except (referrals.NotFound, NotAllowedToSee):
        raise PageError(404, "No such referral", f"There is no referral {ref}.") from None
    timeline = await get_timeline(context.session_factory, ref) or view.timeline
    now = await _now(request)
    async with context.session_factory() as session:
        sent = await referral_records.letters(session, ref)
        recorded = await referral_records.sessions(session, context.keyring, ref)
        liaison = await referral_records.liaison(session, ref)
        views = await read_audit_queries.accesses(session, ref, limit=VIEWS_SHOWN)
        alerts = await crisis_alerts.open_alerts(session, context.keyring, ref)
        # One truth: the waiting list's own position and estimate, never the workflow's copy.
        view = await with_current_standing(session, view, now)
    actions = available_actions(view)
    returning_to = view.practitioner_id if view.returning else None
    practitioners = (
        await practitioners_with_room(request, returning_to) if "allocate" in actions else []
    )
    settings = context.settings
    temporal_url = (
        f"{settings.temporal_ui_url.rstrip('/')}/namespaces/"
        f"{quote(settings.temporal_namespace, safe='')}/workflows/{quote('referral-' + ref)}"
    )
    return render(
        request,
        "referral.html",
        user,
        nav="referrals",
        status=status,
        view=view,
        person=person,
        alerts=alerts,
        triage=triage,
        timeline=list(reversed(timeline)),
        letters=sent,
        sessions=recorded,
        liaison=liaison,
        views=views,
        actions=actions,
        practitioners=practitioners,
        temporal_url=temporal_url,
        back=f"/dashboard/referrals/{ref}",
        triage_stages=TRIAGE_STAGES,
        triage_outcomes=list(TriageOutcome),
        decline_reasons=list(DeclineReason),
        hold_reasons=list(HoldReason),
        removal_reasons=list(RemovalReason),
        closure_reasons=list(ClosureReason),
    )


# ----------------------------------------------------------------------------- waiting list


@router.get("/waiting-list")
async def waiting_list(
    request: Request,
    user: User,
    breach: str | None = None,
    validation: str | None = None,
    held: str | None = None,
    returning: str | None = None,
    urgency: str | None = None,
    page: PageNumber = 1,
) -> Response:
    """The waiting list in allocation order, with waits, estimates, flags and actions."""
    context = get_context(request)
    state = get_state(request)
    now = await _now(request)
    chosen_urgency = urgency if urgency in {u.value for u in Urgency} else None
    filters = WaitingFilters(
        breach=_flag(breach),
        validation=_flag(validation),
        held=_flag(held),
        returning=_flag(returning),
        urgency=Urgency(chosen_urgency) if chosen_urgency else None,
    )
    size = state.settings.page_size
    async with context.session_factory() as session:
        listed = await waiting_page(session, filters, now, limit=size, offset=(page - 1) * size)
        crisis = await crisis_alerts.refs_in_crisis(session, (r.ref for r in listed.items))
    rows, matching, total = listed.items, listed.matching, listed.total_waiting
    params = (
        ("breach", breach or ""),
        ("validation", validation or ""),
        ("held", held or ""),
        ("returning", returning or ""),
        ("urgency", chosen_urgency or ""),
    )
    pager = Pager(page, size, matching, "/dashboard/waiting-list", params)
    practitioners = await practitioners_with_room(request)
    query = urlencode([p for p in (*params, ("page", str(page))) if p[1]])
    return render(
        request,
        "waiting_list.html",
        user,
        nav="waiting",
        rows=rows,
        crisis=crisis,
        pager=pager,
        total=total,
        filters=dict(params),
        urgencies=list(Urgency),
        practitioners=practitioners,
        hold_reasons=list(HoldReason),
        standard_days=context.settings.effective_policy().waiting_standard.days,
        back="/dashboard/waiting-list" + (f"?{query}" if query else ""),
    )


# -------------------------------------------------------------------------------- caseloads


@router.get("/caseloads")
async def caseloads(request: Request, user: User) -> Response:
    """Practitioners, their capacity, active episodes and returning clients waiting."""
    context = get_context(request)
    async with context.session_factory() as session:
        lines = await caseload_lines(session)
    return render(
        request,
        "caseloads.html",
        user,
        nav="caseloads",
        lines=lines,
        capacity=sum(line.capacity for line in lines if line.active),
        caseload=sum(line.caseload for line in lines),
        free=sum(line.free for line in lines),
        returning_total=sum(line.returning_waiting for line in lines),
    )


@router.get("/caseloads/{practitioner_id}")
async def practitioner_caseload(
    request: Request,
    user: User,
    practitioner_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
) -> Response:
    """One practitioner's caseload: their clients (each linked to their page), their diary of
    booked sessions (today first; the same as the practitioner's own, each look at a name
    audited as this coordinator's), room left, and the returning clients waiting for them.
    Without a worker to answer in time the page still shows the rest, saying why the diary
    is missing."""
    context = get_context(request)
    state = get_state(request)
    async with context.session_factory() as session:
        line = next((x for x in await caseload_lines(session) if x.id == practitioner_id), None)
        if line is None:
            raise PageError(404, "No such practitioner", "There is no such practitioner.")
        clients = await caseload_entries(session, practitioner_id)
        returning = await returning_clients(session, practitioner_id)
    found: practice.Workspace | None
    try:
        found = await context.ask(
            lambda: practice.caseload_and_diary(
                context.client, context.session_factory, practitioner_id, user.principal
            )
        )
    except (TimeoutError, RPCError, WorkerUnavailable) as error:
        log.warning("caseload diary unavailable", error_type=type(error).__name__)
        found = None
    now = await state.clock()
    return render(
        request,
        "caseload.html",
        user,
        nav="caseloads",
        line=line,
        clients=clients,
        returning=returning,
        diary=None if found is None else arrange_diary(found.diary, now, state.zone),
        names={} if found is None else {c.view.ref: c.name for c in found.clients},
    )


# ------------------------------------------------------------------------------------ inbox


@router.get("/inbox")
async def inbox(request: Request, user: User, page: PageNumber = 1) -> Response:
    """Messages waiting for a coordinator: crisis first and marked, then oldest first; each
    with its sender (a view of the referral it came from is audited), its age and its owner."""
    context = get_context(request)
    size = get_state(request).settings.page_size
    now = await _now(request)
    async with context.session_factory() as session:
        items, total, crisis = await inbox_queries.inbox_page(
            session, context.keyring, (page - 1) * size, size
        )
        resolved = await inbox_queries.recently_resolved(session, context.keyring)
    # A sender's contact belongs to the person of its referral: seeing it is a view of it.
    for ref in dict.fromkeys(m.ref for m in items if m.ref and m.sender):
        await record_access(context.session_factory, ref, AccessChannel.DASHBOARD, user.principal)
    return render(
        request,
        "inbox.html",
        user,
        nav="inbox",
        items=items,
        crisis=crisis,
        resolved=resolved,
        replies=REPLY_LABELS,
        now=now,
        pager=Pager(page, size, total, "/dashboard/inbox"),
        back="/dashboard/inbox" + (f"?page={page}" if page > 1 else ""),
    )


# ---------------------------------------------------------------------------------- reports


REPORTS = (
    ("waits", "/dashboard/reports", "Waiting times"),
    ("referrers", "/dashboard/reports/referrers", "Referrers"),
    ("outcomes", "/dashboard/reports/outcomes", "Outcomes and liaison"),
    ("reentry", "/dashboard/reports/reentry", "Re-entry"),
)


def _report(
    request: Request, user: DashboardUser, template: str, tab: str, **context: object
) -> Response:
    return render(request, template, user, nav="reports", tab=tab, tabs=REPORTS, **context)


@router.get("/reports")
async def report_waits(request: Request, user: User) -> Response:
    """Waits from referral to first session: median and 90th percentile, as histograms."""
    context = get_context(request)
    now = await _now(request)
    standard_days = context.settings.effective_policy().waiting_standard.total_seconds() / 86400
    async with context.session_factory() as session:
        waits = await reports.waits(session, now, standard_days)
    charts_ = [
        _wait_histogram(
            "Waits of those seen", "referral to first session", waits.seen, standard_days
        ),
        _wait_histogram(
            "Waits so far of those not yet seen",
            "referral to today",
            waits.still_waiting,
            standard_days,
        ),
    ]
    return _report(
        request,
        user,
        "report_waits.html",
        "waits",
        seen=waits.seen.stats,
        waiting=waits.still_waiting.stats,
        wait_charts=charts_,
        standard_days=round(standard_days),
    )


@router.get("/reports/referrers")
async def report_referrers(request: Request, user: User, page: PageNumber = 1) -> Response:
    """Referrals by referrer organisation with decline reasons: feedback for referrers."""
    context = get_context(request)
    size = get_state(request).settings.page_size
    async with context.session_factory() as session:
        found = await reports.referrers(session)
    found.sort(key=lambda r: (-r.received, r.organisation))
    pager = Pager(page, size, len(found), "/dashboard/reports/referrers")
    return _report(
        request,
        user,
        "report_referrers.html",
        "referrers",
        referrers=found[pager.offset : pager.offset + size],
        pager=pager,
    )


@router.get("/reports/outcomes")
async def report_outcomes(request: Request, user: User) -> Response:
    """Anonymised ReQoL-10 change for the service, and social needs met through liaison."""
    async with get_context(request).session_factory() as session:
        outcomes = await reports.outcomes(session)
    overall = outcomes.overall
    recent = [(p.period, p.mean_change, p.measured_pairs) for p in outcomes.periods[-12:]]
    reqol_chart = charts.bar_chart(
        title="Mean ReQoL-10 change by month of discharge",
        description=(
            "Mean change in the ReQoL-10 total (end minus baseline; higher is better) of the "
            "episodes that ended each month with both measures, for the whole service."
        ),
        labels=[period for period, _, _ in recent],
        series=[Series("mean change", [mean for _, mean, _ in recent], charts.TEAL)],
        unit="points",
        head="month",
    )
    change_chart = charts.hbar_chart(
        title="Reliable change, all episodes with both measures",
        description="Episodes by reliable change in the ReQoL-10 total, for the whole service.",
        labels=[k.replace("_", " ") for k in overall.change],
        values=list(overall.change.values()),
        unit="episodes",
        head="change",
        colour=charts.TEAL,
    )
    liaison_chart = charts.hbar_chart(
        title="Social needs met through liaison",
        description="Discharged episodes in which each kind of liaison happened.",
        labels=[k.replace("_", " ") for k in overall.liaison],
        values=list(overall.liaison.values()),
        unit="episodes",
        head="liaison",
    )
    return _report(
        request,
        user,
        "report_outcomes.html",
        "outcomes",
        overall=overall,
        reqol_chart=reqol_chart,
        change_chart=change_chart,
        liaison_chart=liaison_chart,
    )


@router.get("/reports/reentry")
async def report_reentry(request: Request, user: User) -> Response:
    """Open re-entry: how many discharged clients came back, and after how long."""
    async with get_context(request).session_factory() as session:
        reentry = await reports.reentry(session)
    edges, counts = charts.bins([d / 7 for d in reentry.days_to_return], 4, 13)
    median = reentry.median_days
    return_chart = charts.histogram(
        title="Time from discharge to coming back",
        description="Weeks from a discharge to the client's message that brought them back.",
        edges=edges,
        counts=counts,
        markers=[Marker(median / 7, f"median {median / 7:.1f} wk")] if median is not None else [],
        unit="clients",
        axis_label="weeks after discharge",
        colour=charts.PURPLE,
    )
    return _report(
        request, user, "report_reentry.html", "reentry", reentry=reentry, return_chart=return_chart
    )


def _wait_histogram(
    title: str, measured: str, group: reports.WaitGroup, standard_days: float
) -> Markup:
    """Waits in weeks, with the standard, the median and the 90th percentile marked."""
    stats = group.stats
    edges = [float(week) for week in range(len(group.weeks) + 1)]
    markers = [Marker(standard_days / 7, f"standard {standard_days / 7:.0f} wk", charts.AXIS)]
    if stats.median_days is not None:
        markers.append(
            Marker(stats.median_days / 7, f"median {stats.median_days / 7:.1f} wk", charts.NAVY)
        )
    if stats.p90_days is not None:
        markers.append(
            Marker(stats.p90_days / 7, f"90th percentile {stats.p90_days / 7:.1f} wk", charts.RED)
        )
    plural = "" if stats.count == 1 else "s"
    return charts.histogram(
        title=title,
        description=f"{title}: weeks from {measured} ({stats.count:,} referral{plural}).",
        edges=edges,
        counts=group.weeks,
        markers=markers,
        unit="referrals",
        axis_label="weeks",
    )


# ------------------------------------------------------------------------------ dev mailbox


def _mailbox_folder(request: Request) -> Path:
    state = get_state(request)
    if not state.dev_mailbox:
        raise PageError(404, "Not found", "There is no such page.")
    return state.mailbox_dir


@router.get("/mailbox")
async def dev_mailbox(request: Request, user: User, page: PageNumber = 1) -> Response:
    """Every email the local SMTP sink received, newest first (embedded defaults only)."""
    folder = _mailbox_folder(request)
    size = get_state(request).settings.page_size
    found = await asyncio.to_thread(mailbox.names, folder)
    pager = Pager(page, size, len(found), "/dashboard/mailbox")
    page_names = found[pager.offset : pager.offset + size]
    items = await asyncio.to_thread(mailbox.summaries, folder, page_names)
    return render(
        request, "mailbox.html", user, nav="mailbox", items=items, pager=pager, folder=folder
    )


@router.get("/mailbox/{name}")
async def dev_mail(
    request: Request, user: User, name: Annotated[str, PathParam(pattern=mailbox.NAME.pattern)]
) -> Response:
    """One email: subject, recipients, date and its plain-text body."""
    folder = _mailbox_folder(request)
    mail = await asyncio.to_thread(mailbox.read, folder, name)
    if mail is None:
        raise PageError(404, "No such message", "That message is not in the mailbox.")
    return render(request, "mail.html", user, nav="mailbox", mail=mail)


# ----------------------------------------------------------------------------------- static


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The stylesheet (no login needed: it holds nothing but style)."""
    media_type = _STATIC_FILES.get(name)
    if media_type is None:
        raise PageError(404, "Not found", "There is no such file.")
    response = FileResponse(STATIC / name, media_type=media_type)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
