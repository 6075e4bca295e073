"""Who may call Harbour's HTTP API: the role an API key holds (``services.api_keys``)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a key may do: each key has exactly one role."""

    REFERRER = "referrer"
    COORDINATOR = "coordinator"
    PRACTITIONER = "practitioner"
    GATEWAY = "gateway"
