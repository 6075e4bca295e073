"""Finding a person without the read model holding who they are: the normalisation of names,
NHS numbers and phone numbers (``models/person_search.py``), and the keyed blind index
(``readmodel/person_search.py``) on both databases — fuzzy on names, exact on numbers, never
the value itself in the table."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.dashboard import configure
from models.person_search import (
    TermKind,
    client_terms,
    name_tokens,
    nhs_digits,
    phone_form,
    phonetic_key,
    query_groups,
)
from models.tables import PersonSearchRow
from readmodel.person_search import find_people, index_person, search_token
from readmodel.read_audit import accesses
from readmodel.referrals import referral_exists
from tests.fixtures.api import ORG_A, Api
from tests.fixtures.dashboard import dashboard_settings, sign_in
from tests.fixtures.temporal import TEST_PSEUDONYM_KEY
from tests.helpers import eventually

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
Sessions = async_sessionmaker[AsyncSession]


def test_names_are_folded_into_tokens() -> None:
    assert name_tokens("  Zoë  Smith-Jones ") == ["zoe", "smith", "jones"]
    assert name_tokens("Mary-Jane O'Neil") == ["mary", "jane", "neil"]  # one letter dropped
    assert name_tokens("ÅSA ÖBERG") == ["asa", "oberg"]
    assert name_tokens("!!! 123") == []


def test_names_that_sound_alike_share_a_phonetic_key() -> None:
    assert phonetic_key("kathryn") == phonetic_key("catherine")
    assert phonetic_key("hanna") == phonetic_key("hannah")
    assert phonetic_key("smyth") == phonetic_key("smith")
    assert phonetic_key("hannah") != phonetic_key("smith")


def test_numbers_are_normalised() -> None:
    assert nhs_digits("943 476 5919") == "9434765919"
    assert nhs_digits("943-476-5919") == "9434765919"
    assert nhs_digits("94347659") is None
    assert nhs_digits("Hannah 9434765919") is None
    assert phone_form("07700 900123") == "+447700900123"
    assert phone_form("+44 7700 900123") == "+447700900123"
    assert phone_form("Hannah") is None


def test_a_client_gives_name_sound_nhs_and_phone_terms() -> None:
    terms = client_terms("Hannah Lee", "943 476 5919", "07700 900123")
    assert (TermKind.NAME, "hannah") in terms and (TermKind.NAME, "lee") in terms
    assert (TermKind.PHONETIC, phonetic_key("hannah")) in terms
    assert (TermKind.NHS, "9434765919") in terms
    assert (TermKind.PHONE, "+447700900123") in terms


def test_a_query_is_a_number_or_a_group_per_word() -> None:
    assert query_groups("943 476 5919") == [{(TermKind.NHS, "9434765919")}]
    assert query_groups("07700 900123") == [{(TermKind.PHONE, "+447700900123")}]
    groups = query_groups("Hanna Lee")
    assert len(groups) == 2
    assert (TermKind.NAME, "hanna") in groups[0]
    assert query_groups("  ") == []


def test_tokens_are_keyed_and_separated_by_kind() -> None:
    term = (TermKind.NAME, "hannah")
    assert search_token(KEY, term) != search_token(OTHER_KEY, term)
    assert search_token(KEY, term) != search_token(KEY, (TermKind.PHONETIC, "hannah"))
    assert len(search_token(KEY, term)) == 64


async def test_people_are_found_by_name_sound_and_number(session_factory: Sessions) -> None:
    await index_person(session_factory, KEY, "R0000000001", "Hannah Lee", "9434765919", None)
    await index_person(session_factory, KEY, "R0000000002", "Catherine Hanna", None, "07700 900123")
    await index_person(session_factory, KEY, "R0000000003", "Sam Okafor", None, "07700 900124")
    # Again: nothing changes.
    await index_person(session_factory, KEY, "R0000000001", "Hannah Lee", "9434765919", None)
    async with session_factory() as session:
        assert await find_people(session, KEY, "Hannah") == ["R0000000001", "R0000000002"]
        assert await find_people(session, KEY, "hanna") == ["R0000000002", "R0000000001"]
        assert await find_people(session, KEY, "Kathryn") == ["R0000000002"]
        assert await find_people(session, KEY, "hannah lee") == ["R0000000001"]
        assert await find_people(session, KEY, "943 476 5919") == ["R0000000001"]
        assert await find_people(session, KEY, "+447700900123") == ["R0000000002"]
        assert await find_people(session, KEY, "Nobody") == []
        assert await find_people(session, KEY, "") == []
        # Another key finds nobody: the table means nothing without it.
        assert await find_people(session, OTHER_KEY, "Hannah") == []
        # No name or number is in the table, only hashes.
        rows = (await session.execute(select(PersonSearchRow))).scalars().all()
    stored = " ".join(f"{r.token} {r.kind}" for r in rows).lower()
    for value in ("hannah", "lee", "catherine", "9434765919", "447700900123", "okafor"):
        assert value not in stored


async def test_the_referrals_search_box_finds_by_reference_or_person(api: Api) -> None:
    configure(api.app, dashboard_settings())
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator", label="c-dana")
    async with api.h.worker():
        ref = await api.refer(
            referrer, client={"name": "Hannah Lee", "phone": "+447700900301", "nhs_number": None}
        )
        other = await api.refer(referrer, client={"name": "Sam Okafor", "phone": "+447700900302"})
        for each in (ref, other):  # in the read model (the list shows its rows)
            await eventually(lambda each=each: _known(api, coordinator, each), timeout=20)
        assert (await sign_in(api.http, coordinator)).status_code == 303
        for query in ("Hanna", "hannah lee", "07700 900301", "+44 7700 900301"):
            found = await api.http.get("/dashboard/referrals", params={"ref": query})
            assert found.status_code == 200
            assert ref in found.text and other not in found.text, query
            assert "No referral has the reference" not in found.text
            # The person's name beside the reference, so the right one can be chosen.
            assert '<td class="person-name">Hannah Lee</td>' in found.text, query
            assert "Sam Okafor" not in found.text
    # Each name shown was a look at the person, audited as the coordinator's.
    async with api.h.session_factory() as session:
        looks = await accesses(session, ref, limit=50)
        others = await accesses(session, other, limit=50)
    assert len([a for a in looks.items if a.actor == "c-dana"]) >= 4
    assert not [a for a in others.items if a.actor == "c-dana"]
    # With no worker to answer, the results still come, by reference, and say why unnamed.
    context = api.app.state.harbour
    context.api_settings = context.api_settings.model_copy(update={"query_timeout_seconds": 0.5})
    unnamed = await api.http.get("/dashboard/referrals", params={"ref": "Hannah Lee"})
    assert unnamed.status_code == 200 and ref in unnamed.text
    assert (
        "Names cannot be shown just now" in unnamed.text and "Hannah Lee</td>" not in unnamed.text
    )
    # The header's box posts what was typed (a name stays out of addresses and logs).
    page = await api.http.get("/dashboard")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    posted = await api.http.post(
        "/dashboard/referrals/search", data={"csrf": csrf, "ref": "Hannah Lee"}
    )
    assert posted.status_code == 200 and ref in posted.text and other not in posted.text
    to_page = await api.http.post("/dashboard/referrals/search", data={"csrf": csrf, "ref": ref})
    assert to_page.status_code == 303 and to_page.headers["location"].endswith(ref)
    forged = await api.http.post("/dashboard/referrals/search", data={"ref": "Hannah"})
    assert forged.status_code == 403
    by_ref = await api.http.get("/dashboard/referrals", params={"ref": other.lower()})
    assert by_ref.status_code == 303 and by_ref.headers["location"].endswith(other)
    nobody = await api.http.get("/dashboard/referrals", params={"ref": "Zebedee"})
    assert "No referral was found" in nobody.text


async def _known(api: Api, key: str, ref: str) -> bool:
    async with api.h.session_factory() as session:
        return await referral_exists(session, ref)


async def test_every_way_in_is_indexed_when_the_worker_records_the_receipt(api: Api) -> None:
    """The index is written by the workflow's own receipt record, in the transaction of the
    referral's first row: a referral started directly (the CLI's, the simulation's way, or an
    API process that stopped right after starting it) is found like any other."""
    from tests.factories import submission

    async with api.h.worker():
        ref = await api.h.refer(submission(client={"name": "Zoë Quill", "phone": "+447700900331"}))
        await eventually(lambda: _known(api, "", ref), timeout=20)
    async with api.h.session_factory() as session:
        for query in ("zoe quill", "Quil", "07700 900331"):
            assert await find_people(session, TEST_PSEUDONYM_KEY, query) == [ref], query
        rows = (await session.execute(select(PersonSearchRow))).scalars().all()
    assert {r.ref for r in rows} == {ref}
    assert not any("quill" in r.token.lower() or "900331" in r.token for r in rows)
