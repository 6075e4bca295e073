"""Request bodies: authenticated before they are read, capped, and never a 500 however built.

The memory test serves the API in a process of its own (``tests/api_process.py``) and reads
that process's peak resident memory (``VmHWM`` in ``/proc/<pid>/status``) before and after
sending it 200 MB bodies: a body that is read before the key is checked, or read beyond the
cap, shows up there as hundreds of megabytes.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.body_limit import BodyLimit
from api.routes.inbound_messages import MAX_BODY_BYTES
from tests.fixtures.api import ORG_A, Api, intake_body

LARGE = 200 * 1024 * 1024
# Well above the cap and the interpreter's noise, well below one large body.
MAX_GROWTH_KIB = 64 * 1024
ROOT = Path(__file__).resolve().parent.parent


def _peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size so far (``VmHWM``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def _send(port: int, head: str, body_size: int, *, chunked: bool) -> int:
    """Send a request with ``body_size`` bytes of body, stopping as soon as the server has
    answered; the answer's status code."""
    chunk = b"x" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        sent = 0
        answer = b""
        while sent < body_size:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # answered before the body was all sent: stop sending
            piece = chunk[: body_size - sent]
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        while b"\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    status_line = answer.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith("HTTP/1.1 "), status_line
    return int(status_line.split()[1])


def _head(path: str, key: str | None, *, length: int | None) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_large_bodies_are_refused_before_they_are_read(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.api_process", str(tmp_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "HARBOUR_CONFIG_FILE": "/nonexistent"},
    )
    try:
        assert process.stdout is not None
        started: dict[str, Any] = json.loads(process.stdout.readline())
        port, key = started["port"], started["key"]
        # Warm up every path below with small requests, so what follows measures bodies only.
        assert _send(port, _head("/v1/referrals", None, length=2), 2, chunked=False) in (401, 422)
        assert _send(port, _head("/v1/inbox/m1/resolution", key, length=2), 2, chunked=False) in (
            404,
            422,
        )
        before = _peak_rss_kib(process.pid)

        # No key: 401 before the body is read, whether its length is declared or streamed.
        unauthenticated = _send(
            port, _head("/v1/referrals", None, length=None), LARGE, chunked=True
        )
        growth = _peak_rss_kib(process.pid) - before
        assert growth < MAX_GROWTH_KIB, f"peak memory grew by {growth} KiB reading an unkeyed body"
        assert unauthenticated == 401
        assert _send(port, _head("/v1/referrals", None, length=LARGE), LARGE, chunked=False) in (
            401,
            413,
        )
        # The webhook without a key or a signature: 401, nothing read either.
        assert (
            _send(port, _head("/v1/messages/inbound", None, length=None), LARGE, chunked=True)
            == 401
        )
        # A valid key: the body is capped, declared or streamed.
        path = "/v1/inbox/m1/resolution"
        assert _send(port, _head(path, key, length=LARGE), LARGE, chunked=False) == 413
        assert _send(port, _head(path, key, length=None), LARGE, chunked=True) == 413

        growth = _peak_rss_kib(process.pid) - before
        print(f"\npeak memory growth over five 200 MB bodies: {growth} KiB")
        assert growth < MAX_GROWTH_KIB, f"peak memory grew by {growth} KiB"
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_every_body_is_capped_with_a_problem(api: Api) -> None:
    coordinator = await api.key("coordinator")
    referrer = await api.key("referrer", organisation=ORG_A)
    gateway = await api.key("gateway")
    cap = api.app.state.harbour.api_settings.max_body_bytes
    assert any(m.cls is BodyLimit for m in api.app.user_middleware)

    # Declared too large: 413 at once, as problem+json naming the cap.
    declared = await api.post(
        "/v1/referrals",
        referrer,
        content=b"{" + b" " * cap + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert declared.json()["code"] == "too_large" and str(cap) in declared.json()["detail"]

    # Streamed (no length declared) past the cap: 413 too.
    async def stream() -> Any:
        for _ in range(cap // 65536 + 2):
            yield b" " * 65536

    streamed = await api.post(
        "/v1/inbox/m1/resolution",
        coordinator,
        content=stream(),
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413 and streamed.json()["code"] == "too_large"

    # The webhook keeps its own lower cap.
    big_message = {
        "id": "big-1",
        "source_number": "447700900999",
        "destination_number": "07700900000",
        "message": "x" * MAX_BODY_BYTES,
        "date_received": "2026-11-24T10:00:00Z",
    }
    webhook = await api.post("/v1/messages/inbound", gateway, json=big_message)
    assert webhook.status_code == 413 and webhook.json()["code"] == "too_large"

    # A body under the cap still works.
    ok = await api.post("/v1/referrals", referrer, json=intake_body(reason="r" * 5000))
    assert ok.status_code in (202, 503), ok.text


async def test_deeply_nested_json_is_a_422_on_every_json_endpoint(api: Api) -> None:
    keys = {
        "coordinator": await api.key("coordinator"),
        "referrer": await api.key("referrer", organisation=ORG_A),
        "practitioner": await api.key("practitioner", practitioner="p-ana"),
        "gateway": await api.key("gateway"),
    }
    nested = b"[" * 100_000 + b"]" * 100_000  # 200 KB
    nested_object = b'{"a":' * 20_000 + b"1" + b"}" * 20_000
    schema = (await api.get("/openapi.json")).json()
    sent = 0
    for template, item in schema["paths"].items():
        for method, operation in item.items():
            if "requestBody" not in operation:
                continue
            path = template.format(ref="R0000000000", practitioner_id="p-ana", message_id="m1")
            for body in (nested, nested_object):
                for key in keys.values():
                    response = await api.request(
                        method.upper(),
                        path,
                        key,
                        content=body,
                        headers={"Content-Type": "application/json"},
                    )
                    assert response.status_code < 500, (method, template, response.text)
                    if response.status_code not in (401, 403, 404, 413):
                        assert response.status_code == 422, (method, template, response.text)
                        assert response.json()["code"] == "validation"
                        sent += 1
    assert sent >= 15  # every JSON endpoint was reached by a key allowed to use it


async def test_a_query_parameter_given_twice_is_a_422_naming_it(api: Api) -> None:
    coordinator = await api.key("coordinator")
    once = await api.get("/v1/referrals?referrer_organisation=A", coordinator)
    assert once.status_code == 200
    twice = await api.get(
        "/v1/referrals?referrer_organisation=A&limit=5&referrer_organisation=B", coordinator
    )
    assert twice.status_code == 422
    assert twice.headers["content-type"] == "application/problem+json"
    problem = twice.json()
    assert problem["code"] == "validation"
    assert problem["errors"] == [
        {
            "loc": ["query", "referrer_organisation"],
            "msg": "given more than once: give it once",
            "type": "repeated",
        }
    ]
    # A name that is not one of ours is not echoed back.
    odd = await api.get("/v1/waiting-list?Zz%20name=1&Zz%20name=2", coordinator)
    assert odd.status_code == 422
    assert odd.json()["errors"][0]["loc"] == ["query"]
    assert "Zz" not in odd.text
