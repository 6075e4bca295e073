"""SQLAlchemy tables of the read model. Imported by activities and services only.

No client name or contact detail is stored in the read model: referrals are known by their
opaque reference; contacts only as keyed hashes (for message matching). Free text that must be
kept — inbound message bodies (nothing is ever dropped), session locations, coordinators'
resolution notes, ReQoL skip reasons — is stored sealed with the payload codec's key ring
(``readmodel/sealed_text.py``): columns marked *sealed* below hold ``<key id>:<base64>``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


UTC_DT = DateTime(timezone=True)


class ReferralRow(Base):
    __tablename__ = "referrals"

    ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    urgency: Mapped[str] = mapped_column(String(16))
    referrer_organisation: Mapped[str] = mapped_column(String(200), index=True)
    received_at: Mapped[datetime] = mapped_column(UTC_DT)
    accepted_at: Mapped[datetime | None] = mapped_column(UTC_DT)
    waiting_since: Mapped[datetime | None] = mapped_column(UTC_DT)
    first_session_at: Mapped[datetime | None] = mapped_column(UTC_DT)
    discharged_at: Mapped[datetime | None] = mapped_column(UTC_DT)
    closed_reason: Mapped[str | None] = mapped_column(String(64))
    decline_reason: Mapped[str | None] = mapped_column(String(64))
    practitioner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    episode_number: Mapped[int] = mapped_column(Integer, default=0)
    breach: Mapped[bool] = mapped_column(Boolean, default=False)
    in_validation_queue: Mapped[bool] = mapped_column(Boolean, default=False)
    withdrawal_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # The waiting list (models/allocation.py): who a returning client waits for, holds, and
    # urgency as a sortable rank so the head of the list is read straight off an index.
    returning_to: Mapped[str | None] = mapped_column(String(64))
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hold_reason: Mapped[str | None] = mapped_column(String(64))
    urgency_rank: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTC_DT)

    __table_args__ = (
        Index("ix_referrals_stage_received", "stage", "received_at"),
        Index("ix_referrals_queue", "stage", "held", "urgency_rank", "received_at", "ref"),
        Index("ix_referrals_returning", "stage", "returning_to", "held"),
    )


class TimelineEventRow(Base):
    __tablename__ = "timeline_events"

    ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTC_DT)
    kind: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class ContactRow(Base):
    """Keyed hash of a registered contact -> referral, for matching inbound messages."""

    __tablename__ = "contacts"

    contact_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(UTC_DT)
    # The client asked that messages say nothing about the service (not safe to leave them):
    # replies to their messages, sent before any workflow reads them, must know it too.
    discreet: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SessionRow(Base):
    __tablename__ = "sessions"

    ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTC_DT)
    outcome: Mapped[str] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(Text, doc="sealed")


class LiaisonActionRow(Base):
    __tablename__ = "liaison_actions"

    ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTC_DT)


class OutcomeRow(Base):
    """Anonymised: a keyed pseudonym instead of the referral, and no practitioner."""

    __tablename__ = "outcomes"

    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True, doc="YYYY-MM of discharge")
    discharge_reason: Mapped[str] = mapped_column(String(64))
    sessions_attended: Mapped[int] = mapped_column(Integer)
    baseline_total: Mapped[int | None] = mapped_column(Integer)
    end_total: Mapped[int | None] = mapped_column(Integer)
    baseline_skipped_reason: Mapped[str | None] = mapped_column(Text, doc="sealed")
    end_skipped_reason: Mapped[str | None] = mapped_column(Text, doc="sealed")
    change: Mapped[str | None] = mapped_column(String(32))
    recovered: Mapped[bool | None] = mapped_column(Boolean)
    reliably_recovered: Mapped[bool | None] = mapped_column(Boolean)
    liaison: Mapped[list] = mapped_column(JSON, default=list)


class OutboxRow(Base):
    """Every letter and alert, keyed by the workflow's idempotency key."""

    __tablename__ = "outbox"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    recipient_role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    sent_at: Mapped[datetime | None] = mapped_column(UTC_DT)
    # Texts: the keyed hash of the number (hourly limit per number, unreachable marking),
    # the gateway's id, and what its delivery receipt said.
    recipient_key: Mapped[str | None] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    delivered_at: Mapped[datetime | None] = mapped_column(UTC_DT)
    # The notification itself, sealed with the key ring (it holds addresses): a letter whose
    # text failed for good is sent again by the client's next permitted channel.
    payload: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbox_recipient_sent", "recipient_key", "sent_at"),)


class UnreachableContactRow(Base):
    """A client contact that a gateway reported failing for good (keyed hash only)."""

    __tablename__ = "unreachable_contacts"

    contact_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTC_DT)
    ref: Mapped[str] = mapped_column(String(32), index=True)


class InboundMessageRow(Base):
    """Every inbound client message, kept whatever happens to it."""

    __tablename__ = "inbound_messages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    gateway_id: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    sender_key: Mapped[str] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(UTC_DT)
    body: Mapped[str] = mapped_column(Text, doc="sealed")
    ref: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    intent: Mapped[str | None] = mapped_column(String(32))
    crisis: Mapped[bool] = mapped_column(Boolean, default=False)
    in_inbox: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTC_DT)
    resolution_note: Mapped[str | None] = mapped_column(Text, doc="sealed")
    # A crisis alert stays raised (and is escalated) until a coordinator acknowledges it.
    crisis_acknowledged_at: Mapped[datetime | None] = mapped_column(UTC_DT)
    crisis_acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    crisis_acknowledgement_note: Mapped[str | None] = mapped_column(Text, doc="sealed")
    # The sender's number or address, so a coordinator can see who wrote and reply (issue 11).
    sender: Mapped[str | None] = mapped_column(Text, doc="sealed")
    claimed_by: Mapped[str | None] = mapped_column(String(80), doc="staff id")
    claimed_at: Mapped[datetime | None] = mapped_column(UTC_DT)
    # The coded reply a coordinator sent (models.inbox_replies): which, who, when.
    reply_code: Mapped[str | None] = mapped_column(String(32))
    replied_by: Mapped[str | None] = mapped_column(String(200), doc="staff id")
    replied_at: Mapped[datetime | None] = mapped_column(UTC_DT)

    __table_args__ = (UniqueConstraint("channel", "gateway_id", name="uq_inbound_gateway"),)


class PractitionerRow(Base):
    __tablename__ = "practitioners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    capacity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CaseloadRow(Base):
    """One episode on a practitioner's caseload; active while ``ended_at`` is null."""

    __tablename__ = "caseload"

    ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True)
    practitioner_id: Mapped[str] = mapped_column(ForeignKey("practitioners.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTC_DT)
    ended_at: Mapped[datetime | None] = mapped_column(UTC_DT)

    __table_args__ = (
        # Active places only: counting a caseload stays cheap however long the history.
        Index(
            "ix_caseload_active",
            "practitioner_id",
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class PersonSearchRow(Base):
    """The keyed blind index of a referral's client (issue 11): HMACs of the normalised name's
    tokens and phonetic keys, the NHS number and the phone — never the values themselves."""

    __tablename__ = "person_search"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(String(16), doc="name | phonetic | nhs | phone")


# --- HTTP API access (issue 4) ------------------------------------------------------------


class ApiKeyRow(Base):
    """An API key: only the SHA-256 of the key is kept; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # referrer | coordinator | practitioner | gateway
    role: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str | None] = mapped_column(String(200), doc="referrers only")
    practitioner_id: Mapped[str | None] = mapped_column(String(64), doc="practitioners only")
    # An opaque staff id or integration name (never a person's name): recorded as the actor.
    label: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    revoked_at: Mapped[datetime | None] = mapped_column(UTC_DT)


class ReadAuditRow(Base):
    """One look at a referral: who (an API key's id and its staff id or label, never the key;
    the CLI's staff id), when, which referral, and through what (api, dashboard or cli)."""

    __tablename__ = "read_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTC_DT)
    through: Mapped[str] = mapped_column(String(16), doc="api | dashboard | cli")
    actor: Mapped[str] = mapped_column(String(80), doc="staff id, label or key-<id>")
    key_id: Mapped[str | None] = mapped_column(String(32), doc="None from the CLI")
    role: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_read_audit_ref_at", "ref", "at", "id"),)


class DashboardSessionRow(Base):
    """A dashboard sign-in, kept on the server: the signed cookie carries only its id, so
    signing out (or revoking the key) ends it for every copy of the cookie."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    expires_at: Mapped[datetime] = mapped_column(UTC_DT)
    ended_at: Mapped[datetime | None] = mapped_column(UTC_DT)


class IdempotencyKeyRow(Base):
    """A referrer's ``Idempotency-Key`` -> the reference it was given (stored before the start).

    ``request_hash`` is the SHA-256 of the validated submission, so a reused key with a
    different referral is refused; ``started_at`` is set once the workflow surely exists.
    """

    __tablename__ = "idempotency_keys"

    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    ref: Mapped[str] = mapped_column(String(32))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    started_at: Mapped[datetime | None] = mapped_column(UTC_DT)


class ClientLinkUseRow(Base):
    """A client's secure link that has made its one change (single use): the token's id,
    the referral and purpose it was for, and when. A token whose id is here changes nothing
    more."""

    __tablename__ = "client_link_uses"

    token_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    used_at: Mapped[datetime] = mapped_column(UTC_DT)


# Keyset pagination of GET /v1/referrals, newest first, without sorting the whole table.
Index("ix_referrals_received_ref", ReferralRow.received_at, ReferralRow.ref)
