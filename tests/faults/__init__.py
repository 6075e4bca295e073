"""Fault injection: the referral lifecycle on real servers while they are broken on purpose."""
