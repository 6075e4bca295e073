"""The label values Harbour's metrics may carry: closed sets, so that no label can ever hold a
name, a number, a reference, an organisation or free text (docs/observability.md).

A value read from the database is passed through ``closed`` before it becomes a label: a
value outside the set (a status a later release adds, or a corrupted row) is counted as
``other`` instead of being echoed into the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable

from models.notifications import ContactChannel
from models.referral import Stage

OTHER = "other"
NONE = "none"

STAGES = frozenset(stage.value for stage in Stage)
CHANNELS = frozenset(channel.value for channel in ContactChannel)
# The outbox's own statuses (activities/notifications.py writes them; GONE ones are final).
OUTBOX_STATUSES = frozenset(
    {
        "sending",
        "sent",
        "suppressed",
        "rejected",
        "unreachable",
        "no_address",
        "render_failed",
        "bad_header",
    }
)
# GOV.UK Notify's delivery receipts (services/delivery_receipts.py); "none" before any came.
DELIVERY_STATUSES = frozenset(
    {
        "delivered",
        "permanent-failure",
        "temporary-failure",
        "technical-failure",
        "sending",
        "sent",
        NONE,
    }
)


def closed(value: str | None, allowed: Iterable[str], *, missing: str = NONE) -> str:
    """``value`` if it is one of ``allowed``, ``missing`` when there is none, else ``other``."""
    if value is None:
        return missing
    return value if value in allowed else OTHER
