"""One module per concept: referrals, waiting list, practitioners, inbox, inbound messages,
reports, health."""
