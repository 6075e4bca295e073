"""Search attributes: opaque ids and stages only (Temporal stores them unencrypted)."""

from temporalio.common import SearchAttributeKey

REFERRAL_STAGE = SearchAttributeKey.for_keyword("ReferralStage")
ALL = [REFERRAL_STAGE]
