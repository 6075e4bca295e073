"""A client's secure link: ``GET /c/{token}`` shows what it asks, ``POST /c/{token}`` takes
the answer, ``GET /c/{token}/done/{answer}`` says what happened (post, then redirect, so a
refresh repeats nothing). Plain HTML forms: no script needed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.client_links.web import (
    KEPT_ANYWAY,
    STATIC,
    PublicRoute,
    form_body,
    get_pages,
    log,
    message_page,
    render,
)
from api.context import get_context
from api.dashboard.web import PageError, read_form, same_origin
from models.client_links import LINK_ANSWERS, LinkAnswer, LinkPurpose, answer_allowed
from models.reqol import ITEMS
from services import client_links
from services.reqol_wording import load_reqol_wording
from services.worker_presence import WorkerUnavailable

router = APIRouter(route_class=PublicRoute)

Token = Annotated[str, Path(min_length=10, max_length=120, pattern=r"^[A-Za-z0-9_.-]+$")]
REQOL_CHOICES = range(0, 5)
_CHOICE_TEXTS = frozenset(str(choice) for choice in REQOL_CHOICES)
_STATIC_FILES = {"public.css": "text/css"}
# Why a ReQoL-10 was not taken: already recorded (409), or nothing could take it now (503).
_REFUSED_STATUS = {"already": 409, "unavailable": 503}


def _page_for(purpose: LinkPurpose) -> str:
    return "reqol.html" if purpose is LinkPurpose.REQOL else "link.html"


@router.get("/c/static/{name}")
async def static(name: str) -> Response:
    """The public pages' stylesheet."""
    media_type = _STATIC_FILES.get(name)
    if media_type is None:
        raise PageError(404, "Not found", "There is no such file.")
    response = FileResponse(STATIC / name, media_type=media_type)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@router.get("/c/{token}")
async def link_page(request: Request, token: Token) -> Response:
    """What the link asks: its answers as buttons (a ReQoL-10 as ten questions)."""
    link = await client_links.open_link(
        get_pages(request).signer, get_context(request).session_factory, token
    )
    return render(
        request,
        _page_for(link.purpose),
        purpose=link.purpose.value,
        answers=[a.value for a in LINK_ANSWERS[link.purpose]],
        used=link.used,
        token=token,
        items=list(ITEMS),
        choices=list(REQOL_CHOICES),
        chosen={},
        missing=[],
        refused=None,
        wording=load_reqol_wording(get_context(request).settings.reqol_wording_file),
    )


@router.post(
    "/c/{token}",
    openapi_extra=form_body(
        answer={"type": "string", "enum": [a.value for a in LinkAnswer]},
        **{
            f"q{item}": {"type": "string", "enum": [str(c) for c in REQOL_CHOICES]}
            for item in ITEMS
        },
    ),
)
async def link_answer(request: Request, token: Token) -> Response:
    """Take the answer; then show what happened (asking for help shows the crisis contacts
    whatever else goes wrong)."""
    form = await read_form(request)
    if not same_origin(request):
        raise PageError(403, "Please try again", "Open the link from your message again.")
    try:
        given = LinkAnswer(form.get("answer"))
    except ValueError:
        raise PageError(
            400, "Please choose an answer", "Go back and press one of the buttons."
        ) from None
    context = get_context(request)
    signer = get_pages(request).signer
    if given is LinkAnswer.HELP:
        return await _help(request, token)
    link = await client_links.open_link(signer, context.session_factory, token)
    if not answer_allowed(link.purpose, given):
        raise client_links.LinkNotFound
    reqol: dict[int, int] | None = None
    if given is LinkAnswer.REQOL:
        reqol, missing = _reqol_answers(form.fields)
        if missing:
            return _reqol_again(request, token, form.fields, missing, None)
    try:
        await client_links.answer(
            context.client,
            context.session_factory,
            context.keyring,
            signer,
            token,
            given,
            reqol=reqol,
            policy=context.settings.effective_policy(),
            task_queue=context.settings.task_queue,
            worker_wait_seconds=context.settings.worker_wait_seconds,
        )
    except client_links.AnswerNotTaken:
        return _reqol_again(request, token, form.fields, [], "already")
    except (WorkerUnavailable, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
        if given is not LinkAnswer.REQOL:
            log.warning("link answer kept, not delivered", answer=given.value)
            return message_page(request, 503, "Please try again soon", KEPT_ANYWAY)
        # A ReQoL-10 is kept only once the workflow takes it: the answers back, to send again.
        return _reqol_again(request, token, form.fields, [], "unavailable")
    return RedirectResponse(f"/c/{token}/done/{given.value}", status_code=303)


async def _help(request: Request, token: str) -> Response:
    """The crisis contacts at once; coordinators alerted (if that fails, the page still shows
    the contacts and says to call)."""
    context = get_context(request)
    alerted = True
    try:
        await client_links.answer(
            context.client,
            context.session_factory,
            context.keyring,
            get_pages(request).signer,
            token,
            LinkAnswer.HELP,
            policy=context.settings.effective_policy(),
            task_queue=context.settings.task_queue,
        )
    except (client_links.LinkNotFound, client_links.LinkGone):
        alerted = False
    except Exception as error:  # never leave someone asking for help without the contacts
        alerted = False
        log.error("help by link not delivered", error_type=type(error).__name__)
    return render(request, "help.html", alerted=alerted)


@router.get("/c/{token}/done/{answer}")
async def link_done(request: Request, token: Token, answer: LinkAnswer) -> Response:
    """What happened after an answer, in plain words."""
    link = await client_links.open_link(
        get_pages(request).signer, get_context(request).session_factory, token
    )
    if not answer_allowed(link.purpose, answer) or answer is LinkAnswer.HELP:
        raise client_links.LinkNotFound
    return render(request, "done.html", answer=answer.value)


def _reqol_answers(fields: dict[str, list[str]]) -> tuple[dict[int, int], list[int]]:
    """The ten answers by item number, and the items not answered (or not 0–4)."""
    answers: dict[int, int] = {}
    missing: list[int] = []
    for item in ITEMS:
        value = fields.get(f"q{item}", [""])[0].strip()
        # By the choices' own text: "²" or "٣" pass str.isdigit() but are no answer here.
        if value in _CHOICE_TEXTS:
            answers[item] = int(value)
        else:
            missing.append(item)
    return answers, missing


def _reqol_again(
    request: Request,
    token: str,
    fields: dict[str, list[str]],
    missing: list[int],
    refused: str | None,
) -> Response:
    """The questions again with what was chosen kept, and what is missing named at the top."""
    chosen = {
        item: fields[f"q{item}"][0]
        for item in ITEMS
        if fields.get(f"q{item}", [""])[0] in _CHOICE_TEXTS
    }
    return render(
        request,
        "reqol.html",
        status=_REFUSED_STATUS.get(refused or "", 422),
        purpose=LinkPurpose.REQOL.value,
        answers=[],
        used=False,
        token=token,
        items=list(ITEMS),
        choices=list(REQOL_CHOICES),
        chosen=chosen,
        missing=missing,
        refused=refused,
        wording=load_reqol_wording(get_context(request).settings.reqol_wording_file),
    )


__all__ = ["message_page", "router"]
