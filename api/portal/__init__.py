"""The referrers' own pages (``/referrer``, issue 12): sign in with the organisation's
referrer key, see its referrals, answer triage questions, read decisions, refer someone.

Served by the API application itself, with the public pages' layout and plumbing
(``api.client_links.web``) and the dashboard's signer and server-side sessions.
"""

from __future__ import annotations

from api.portal.pages import router

__all__ = ["router"]
