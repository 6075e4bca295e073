"""schemathesis against the public pages' own schema (``api.public_schema``): every page and
token endpoint — clients' links, referrers' pages, the self-referral form — with generated
paths, tokens and forms (positive and negative), signed in as a referrer and not, with real
tokens for a real referral a third of the time: never a 5xx, never a traceback, always a
page (HTML) or a redirect.

``HARBOUR_SCHEMATHESIS_EXAMPLES`` sets the examples per operation (as for the API's test).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from datetime import timedelta
from typing import Any

import hypothesis
import hypothesis.errors
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api.public_schema import public_pages_schema
from infra.link_tokens import LinkSigner
from models.actions import TriageDecision, TriageOutcome
from models.client_links import LinkPurpose, purpose_code
from tests.factories import submission
from tests.fixtures.api import ORG_A, api_settings, running_api
from tests.fixtures.temporal import TEST_PSEUDONYM_KEY, Harness
from tests.test_api_schemathesis import LoopBridge

EXAMPLES = min(int(os.environ.get("HARBOUR_SCHEMATHESIS_EXAMPLES", "500")), 200)
SCHEMA_PATH = "/__test__/public-openapi.json"


def _run_operation(
    operation: Any,
    headers: dict[str, str],
    real: dict[str, list[str]],
    mode: GenerationMode,
    counts: dict[str, int],
) -> str | None:
    label = f"{operation.method.upper()} {operation.path} [{mode.value}]"
    names = [p.name for p in operation.path_parameters]

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(
        case=operation.as_strategy(generation_mode=mode),
        pick=st.integers(min_value=0, max_value=len(real.get("token", [])) + 1),
        signed_in=st.booleans(),
    )
    def run(case: Any, pick: int, signed_in: bool) -> None:
        for name in names:
            values = real.get(name, [])
            if values and pick < len(values):
                case.path_parameters[name] = values[pick % len(values)]
        counts[label] = counts.get(label, 0) + 1
        response = case.call(headers=headers if signed_in else {})
        case.validate_response(response, checks=[not_a_server_error])
        assert "Traceback" not in response.text
        if response.status_code not in (301, 302, 303, 307) and response.status_code != 405:
            kind = response.headers.get("content-type") or ""
            kind = kind[0] if isinstance(kind, list) else kind  # schemathesis: lists
            assert kind.startswith(("text/html", "text/css")), (response.status_code, kind)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        return None
    except (Exception, BaseExceptionGroup) as failure:
        return f"{label}: {failure}"[:3000]
    return None


def _run_all(
    bridge: LoopBridge, headers: dict[str, str], real: dict[str, list[str]]
) -> tuple[list[str], dict[str, int]]:
    schema = schemathesis.openapi.from_asgi(SCHEMA_PATH, bridge)
    failures: list[str] = []
    counts: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _run_operation(operation, headers, real, mode, counts)
            if failure:
                failures.append(failure)
    return failures, counts


async def test_every_public_page_and_token_endpoint_holds_under_fuzzing(harness: Harness) -> None:
    generous = api_settings(self_referral_per_minute=1e9, self_referral_burst=10**9)
    async with running_api(harness, generous) as api:
        schema = public_pages_schema()
        api.app.add_api_route(SCHEMA_PATH, lambda: schema, include_in_schema=False)
        key = await api.key("referrer", organisation=ORG_A)
        form = await api.get("/referrer/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        login = await api.post("/referrer/login", data={"csrf": token.group(1), "api_key": key})
        cookie = "; ".join(f"{name}={value}" for name, value in api.http.cookies.items())
        assert login.status_code == 303 and "harbour_referrer=" in cookie
        async with harness.worker():
            ref = await harness.refer(submission())
            await harness.act(
                ref, "triage", TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c")
            )
            await harness.advance(timedelta(days=1))
            signer = LinkSigner(TEST_PSEUDONYM_KEY)
            tokens = [
                signer.make(purpose_code(purpose), ref, f"fuzz{number:012d}")
                for number, purpose in enumerate(LinkPurpose)
            ]
            real = {"token": tokens, "ref": [ref]}
            bridge = LoopBridge(api.app, asyncio.get_running_loop())
            started = time.monotonic()
            failures, counts = await asyncio.to_thread(_run_all, bridge, {"Cookie": cookie}, real)
            elapsed = time.monotonic() - started
    print(f"\nschemathesis (public pages): {sum(counts.values())} requests in {elapsed:.0f} s")
    for label, count in sorted(counts.items()):
        print(f"  {count:5d}  {label}")
    assert failures == [], "\n\n".join(failures)
    positive = [label for label in counts if label.endswith("[positive]")]
    assert len(positive) == sum(len(item) for item in schema["paths"].values()), positive
