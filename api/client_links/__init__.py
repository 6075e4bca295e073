"""Pages for clients, reached by the secure links in their letters and texts (``/c/...``):
answer a check-in, confirm leaving the list, come back after discharge, fill in a ReQoL-10.

Served by the API application itself; no sign-in: the link is the key, and it does one thing
for one referral (``services.client_links``, docs/client-links.md).
"""

from __future__ import annotations

from api.client_links.pages import router

__all__ = ["router"]
