"""A practitioner's workspace (GET): their caseload and diary, each client's page, and the
ReQoL-10 form. Only their own clients: anyone else's reference is a 404 page, exactly like one
that does not exist. The forms these pages carry are ``api.dashboard.practice_forms``.

Names and contacts are opened for display through ``services.person_display`` (every look is
audited); bookings and progress come from each referral's workflow, who is on the caseload
from the read model (``services.practice``). See docs/practice.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from api.context import get_context
from api.dashboard import practice_words
from api.dashboard.session import DashboardUser
from api.dashboard.state import STATIC, get_state
from api.dashboard.web import DashboardRoute, PageError, current_practitioner, render
from models.actions import ReqolWhen
from models.diary import arrange_diary
from models.pathway import EPISODE_STAGES
from models.referral import REFERENCE_PATTERN
from models.reqol import ITEMS
from services import practice
from services.reqol_wording import load_reqol_wording

router = APIRouter(route_class=DashboardRoute)

Practitioner = Annotated[DashboardUser, Depends(current_practitioner)]
Ref = Annotated[str, PathParam(pattern=REFERENCE_PATTERN)]
HOME = "/dashboard/practice"
NOT_YOURS = (
    "There is no client with that reference on your caseload. Check the reference, or go "
    "back to your caseload."
)


@dataclass
class FormProblem:
    """What was wrong with a posted form: each problem linked to its field (by id), and what
    was typed or chosen, to show again."""

    form: str
    errors: list[tuple[str, str]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def add(self, field_id: str, message: str) -> None:
        self.errors.append((field_id, message))

    def error(self, field_id: str) -> str | None:
        """The message for ``field_id``, if it has one."""
        return next((m for f, m in self.errors if f == field_id), None)


def client_url(ref: str) -> str:
    return f"{HOME}/clients/{ref}"


def not_yours() -> PageError:
    return PageError(404, "Not on your caseload", NOT_YOURS)


def _words() -> dict[str, Any]:
    return {
        "outcome_words": practice_words.SESSION_OUTCOMES,
        "liaison_words": practice_words.LIAISON,
        "discharge_words": practice_words.DISCHARGE_REASONS,
        "skip_words": practice_words.SKIP_REASONS,
        "measure_words": practice_words.MEASURES,
    }


@router.get("/practice")
async def workspace(request: Request, user: Practitioner) -> Response:
    """The practitioner's diary (today first) and caseload, each client linked to their page."""
    context = get_context(request)
    state = get_state(request)
    assert user.principal.practitioner_id is not None  # current_practitioner sees to it
    practitioner_id = user.principal.practitioner_id
    found = await context.ask(
        lambda: practice.caseload_and_diary(
            context.client, context.session_factory, practitioner_id, user.principal
        ),
    )
    now = await state.clock()
    diary = arrange_diary(found.diary, now, state.zone)
    return render(
        request,
        "practice_workspace.html",
        user,
        nav="practice",
        clients=found.clients,
        diary=diary,
        now=now,
        **_words(),
    )


async def render_client(
    request: Request,
    user: DashboardUser,
    ref: str,
    problem: FormProblem | None = None,
    status: int = 200,
) -> Response:
    """A client's page, with a form's problems when it is shown again after a post."""
    context = get_context(request)
    try:
        record = await context.ask(
            lambda: practice.client_record(
                context.client, context.session_factory, context.keyring, ref, user.principal
            ),
        )
    except practice.NotYourClient:
        raise not_yours() from None
    now = await get_state(request).clock()
    return render(
        request,
        "practice_client.html",
        user,
        nav="practice",
        status=status,
        record=record,
        view=record.view,
        person=None if record.person is None else record.person.client,
        referral=record.person,
        in_episode=record.view.stage in EPISODE_STAGES,
        problem=problem,
        now=now,
        max_sessions=context.settings.effective_policy().max_sessions,
        **_words(),
    )


@router.get("/practice/clients/{ref}")
async def client_page(request: Request, user: Practitioner, ref: Ref) -> Response:
    """One client: who they are (the look is audited), the episode, sessions booked and
    recorded, measures, and the forms that fit where the episode is."""
    return await render_client(request, user, ref)


async def render_reqol(
    request: Request,
    user: DashboardUser,
    ref: str,
    when: ReqolWhen,
    problem: FormProblem | None = None,
    status: int = 200,
) -> Response:
    """The ReQoL-10 form for ``when`` (or its skip form), with problems after a post."""
    context = get_context(request)
    try:
        view = await context.ask(lambda: practice.own_client(context.client, ref, user.principal))
    except practice.NotYourClient:
        raise not_yours() from None
    wording = load_reqol_wording(context.settings.reqol_wording_file)
    return render(
        request,
        "practice_reqol.html",
        user,
        nav="practice",
        status=status,
        view=view,
        when=when.value,
        items=list(ITEMS),
        wording=wording,
        in_episode=view.stage in EPISODE_STAGES,
        problem=problem,
        **_words(),
    )


@router.get("/practice/clients/{ref}/reqol/{when}")
async def reqol_page(request: Request, user: Practitioner, ref: Ref, when: ReqolWhen) -> Response:
    """ReQoL-10 at the start or end of the episode: the ten answers, or why it was skipped."""
    return await render_reqol(request, user, ref, when)


@router.get("/practice/static/practice.css")
async def stylesheet() -> Response:
    """The workspace's own styles (forms' errors and dates); no login needed: style only."""
    return FileResponse(STATIC / "practice.css", media_type="text/css; charset=utf-8")
