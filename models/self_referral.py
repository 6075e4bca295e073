"""The rules of the public self-referral form: who it is "from", and what tells a person
filling it in from a script (without a third-party captcha).

- A hidden field a person never sees (the honeypot) must stay empty.
- The form must take a person's time: at least ``MIN_FORM_SECONDS`` between showing it and
  sending it (from a signed timestamp), and at most ``MAX_FORM_AGE`` (an old form is shown
  again, what was typed kept).
- Per address, only a few forms are taken in a while (the API's rate limiter).

Whatever happens, the answer never says whether the person is already known to the service.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

SELF_REFERRAL = "Self-referral"
MIN_FORM_SECONDS = 4.0
MAX_FORM_AGE = timedelta(hours=3)


class FormCheck(StrEnum):
    """What the form's protections say about one submission."""

    PERSON = "person"  # take it
    AUTOMATED = "automated"  # looks like a script: answer as if taken, keep nothing
    TOO_QUICK = "too_quick"  # show the form again, kept as typed
    EXPIRED = "expired"  # show the form again, kept as typed


def check_form(honeypot: str, seconds_since_shown: float | None) -> FormCheck:
    """Judge a submission by its honeypot and the time since the form was shown (None: the
    form's timestamp was missing, altered or too old)."""
    if honeypot.strip():
        return FormCheck.AUTOMATED
    if seconds_since_shown is None:
        return FormCheck.EXPIRED
    if seconds_since_shown < MIN_FORM_SECONDS:
        return FormCheck.TOO_QUICK
    return FormCheck.PERSON
