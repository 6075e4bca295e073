"""The public self-referral form (issue 12, part 3): a person's form starts a referral that
a coordinator triages like any other (referrer "Self-referral"); a honeypot, a signed time
check and a rate limit per address keep scripts out; the answer is the same for everyone."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

import models.self_referral
from models.referral import Stage
from models.self_referral import MIN_FORM_SECONDS, FormCheck, check_form
from models.tables import ReferralRow
from tests.fixtures.api import Api, api_settings, running_api
from tests.fixtures.temporal import Harness
from tests.helpers import eventually

STARTED = re.compile(r'name="started" value="([^"]+)"')
FORM = {
    "name": "Robin Quill",
    "email": "robin.quill@example.org",
    "phone": "",
    "help_with": "I have been finding it hard to leave the house.",
    "consent": "yes",
    "website": "",
}


def test_the_form_check_rules() -> None:
    assert check_form("", MIN_FORM_SECONDS + 1) is FormCheck.PERSON
    assert check_form("http://spam.example", 60) is FormCheck.AUTOMATED
    assert check_form("", 0.5) is FormCheck.TOO_QUICK
    assert check_form("", None) is FormCheck.EXPIRED


async def _shown(api: Api, monkeypatch: pytest.MonkeyPatch, ago: float = 30) -> str:
    """A form's stamp as if it had been shown ``ago`` seconds ago."""
    import time as time_module

    real = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real() - ago)
    try:
        page = await api.get("/refer-yourself")
    finally:
        monkeypatch.setattr(time_module, "time", real)
    assert page.status_code == 200
    found = STARTED.search(page.text)
    assert found
    return found.group(1)


async def _self_referrals(api: Api) -> list[ReferralRow]:
    async with api.h.session_factory() as session:
        return list(
            (
                await session.scalars(
                    select(ReferralRow).where(ReferralRow.referrer_organisation == "Self-referral")
                )
            ).all()
        )


async def test_a_self_referral_reaches_triage_once_however_often_it_is_sent(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api.h.worker():
        started = await _shown(api, monkeypatch)
        first = await api.post("/refer-yourself", data={**FORM, "started": started})
        again = await api.post("/refer-yourself", data={**FORM, "started": started})
        assert first.status_code == again.status_code == 303
        thanks = await api.get(first.headers["location"])
        assert "A person from our team will read it" in thanks.text

        async def in_triage() -> list[ReferralRow]:
            rows = await _self_referrals(api)
            return rows if rows and rows[0].stage == Stage.TRIAGE.value else []

        rows = await eventually(in_triage)
        assert len(rows) == 1
        api.started.ids.append(f"referral-{rows[0].ref}")


async def test_scripts_and_hurried_forms_are_kept_out_and_told_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    trap = await _shown(api, monkeypatch)
    caught = await api.post("/refer-yourself", data={**FORM, "started": trap, "website": "x"})
    assert caught.status_code == 303 and caught.headers["location"] == "/refer-yourself/sent"
    quick = await _shown(api, monkeypatch, ago=0)
    # However slow the machine, this is sooner than an hour after showing the form.
    monkeypatch.setattr(models.self_referral, "MIN_FORM_SECONDS", 3600.0)
    hurried = await api.post("/refer-yourself", data={**FORM, "started": quick})
    monkeypatch.undo()
    assert hurried.status_code == 422 and "press the button again" in hurried.text
    assert 'value="Robin Quill"' in hurried.text
    forged = await api.post("/refer-yourself", data={**FORM, "started": "forged"})
    assert forged.status_code == 422
    invalid = await api.post(
        "/refer-yourself",
        data={**FORM, "started": await _shown(api, monkeypatch), "consent": "", "email": "x"},
    )
    assert invalid.status_code == 422
    assert 'href="#consent"' in invalid.text and 'href="#email"' in invalid.text
    assert await _self_referrals(api) == []


async def test_one_address_may_send_only_a_few_forms(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = api_settings(self_referral_burst=2, self_referral_per_minute=0.1)
    async with running_api(harness, settings) as api:
        answers = []
        for _ in range(3):
            started = await _shown(api, monkeypatch)
            response = await api.post(
                "/refer-yourself", data={**FORM, "started": started, "website": "bot"}
            )
            answers.append(response.status_code)
        assert answers == [303, 303, 429]


async def test_a_person_over_the_limit_gets_their_form_back_as_written(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shared connection (a library, a clinic's wifi) may meet the limit: the person is
    told to wait and what they wrote is shown again, not lost behind an error page."""
    settings = api_settings(self_referral_burst=1, self_referral_per_minute=0.1)
    async with running_api(harness, settings) as api:
        first = await api.post(
            "/refer-yourself", data={**FORM, "started": await _shown(api, monkeypatch)}
        )
        assert first.status_code == 303
        second = await api.post(
            "/refer-yourself",
            data={**FORM, "name": "Sam Reed", "started": await _shown(api, monkeypatch)},
        )
        assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
        assert "wait a few minutes" in second.text
        assert 'value="Sam Reed"' in second.text and FORM["help_with"] in second.text
        assert STARTED.search(second.text)  # a fresh stamp: the button works again later
        assert len(await _self_referrals(api)) <= 1


async def test_something_other_than_a_form_is_refused_in_plain_words(api: Api) -> None:
    response = await api.http.post(
        "/refer-yourself", content=b'{"name": "x"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 415 and "text/html" in response.headers["content-type"]
    assert "only takes forms from our own pages" in response.text
    assert "dashboard" not in response.text.lower() and "Traceback" not in response.text
    assert await _self_referrals(api) == []
