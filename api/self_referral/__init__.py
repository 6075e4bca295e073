"""The public self-referral form (``/refer-yourself``, issue 12 part 3): a person refers
themselves; a coordinator triages it like any referral. Protected without a third-party
captcha (``models.self_referral``): a honeypot, a signed time check, a rate limit per address.
"""

from __future__ import annotations

from api.self_referral.pages import router

__all__ = ["router"]
