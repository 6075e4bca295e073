"""Logging: structlog and the standard library rendered alike, console or JSON.

Log lines carry referral refs, workflow ids and stages only — never a name, contact, NHS number,
risk information or clinical note (DESIGN.md, "Safety and privacy rules"). Log the reference and
the stage, never the model.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Protocol

import structlog
from structlog.typing import Processor

# Library loggers held above INFO whatever the level: aiosmtpd's "mail.log" writes every sender
# and recipient address (personal data) at INFO; alembic's plugin set-up is noise.
QUIETER_LOGGERS = {
    "mail.log": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,
    # Notify's client logs the gateway's error text at WARNING, which can echo a phone number;
    # Harbour logs the status code itself.
    "notifications_python_client": logging.CRITICAL,
    # httpx logs every request's full URL, query string included, at INFO.
    "httpx": logging.WARNING,
}


# A client's secure link, /c/<token>[/...]: the token is the key to their page (the public
# pages' static files, /c/static/..., hold none).
_LINK_TOKEN = re.compile(r"^/c/(?!static/)[^/]+")


class _WithoutQueryStrings(logging.Filter):
    """uvicorn's access log (any uvicorn in the process, should one have it on) without query
    strings — they carry typed search text, and would carry a key sent in a URL — and without
    the token of a client's secure link (``/c/{token}``), which opens their page."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's record: (client address, method, path with query, HTTP version, status).
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path = _LINK_TOKEN.sub("/c/{token}", args[2].split("?", 1)[0])
            record.args = (args[0], args[1], path, args[3], args[4])
        return True


_WITHOUT_QUERY_STRINGS = _WithoutQueryStrings()


class _LogSettings(Protocol):
    log_format: str
    log_level: str


def configure_logging(settings: _LogSettings) -> None:
    """Route structlog and stdlib logging (incl. ``temporalio.workflow.logger``) to one handler.

    Both go through ``structlog.stdlib.ProcessorFormatter``, so a workflow's log line and an
    activity's structlog line look the same: JSON when ``log_format == "json"``, console
    otherwise, with ISO-8601 UTC timestamps. Safe to call more than once.
    """
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO

    # Processors shared by structlog-native and foreign (stdlib) records.
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if settings.log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        # Plain tracebacks: rich's (the default when installed) print local variables, which
        # could be personal data or key material.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )

    # The same list instance, refilled: a logger cached on first use holds the list, so a
    # second call (a command run in-process after another, a test) must reach it too.
    processors = structlog.get_config()["processors"]
    if not isinstance(processors, list):
        processors = []
    processors[:] = [
        structlog.stdlib.filter_by_level,
        *shared,
        structlog.processors.UnicodeDecoder(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ]
    structlog.configure(
        processors=processors,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("harbour")

    root = logging.getLogger()
    # Replace only our own handler, so calling twice does not double every line and pytest's
    # capture handlers survive.
    for existing in list(root.handlers):
        if existing.get_name() == "harbour":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name, minimum in QUIETER_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, minimum))
    logging.getLogger("uvicorn.access").addFilter(_WITHOUT_QUERY_STRINGS)


def get_logger(name: str | None = None, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger for activities and services (workflows use ``workflow.logger``)."""
    return structlog.stdlib.get_logger(name, **initial)
