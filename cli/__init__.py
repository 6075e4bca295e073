"""Harbour's command line (``python starter.py …``): one module per actor or concept, each
checking input with the models and calling the services the HTTP API uses.

    referrals      refer, answer, state
    coordination   triage, allocate, close, confirm_withdrawal, keep, hold, release, remove
    episodes       book, session, reqol, extend, discharge
    practitioners  practitioner add | list
    messages       message, text, texts, acknowledge, inbox
    api_keys       apikey create | list | revoke
    simulate       simulate

``main`` never lets a traceback reach the user: expected failures are one line on stderr
(``cli.runner``), anything else a short message, with the details in
``<data_dir>/cli-errors.log``.
"""

from __future__ import annotations

import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

import typer

from cli import api_keys, coordination, episodes, messages, practitioners, referrals, simulate

HELP = """Drive Harbour from the command line, as each actor would.

\b
    python starter.py refer samples/referral.json
    python starter.py triage R… accept
    python starter.py practitioner add p-ana --name "Ana Lowry" --email ana@… --capacity 8
    python starter.py allocate R… p-ana
    python starter.py book R… --in-days 2 --where café
    python starter.py session R… attended --liaison housing
    python starter.py reqol R… baseline --responses 2,2,2,2,2,2,2,2,2,2
    python starter.py discharge R… completed --summary "…"
    python starter.py message --from alex.morgan@example.org "I'd like to come back"
    python starter.py state R…
    python starter.py apikey create --role referrer --organisation "Harbourside GP"
    python starter.py apikey list
    python starter.py apikey revoke 3f9c0a1b2c3d4e5f

Run `python starter.py COMMAND --help` for every option of a command.
"""

ERROR_LOG = "cli-errors.log"

# Plain help (no rich: it is slow to import), no shell-completion options.
app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    # Wide enough that each command's one-line help is shown whole.
    context_settings={"max_content_width": 100, "terminal_width": 100},
)
for module in (referrals, coordination, episodes, messages, simulate):
    app.add_typer(module.app)
app.add_typer(
    practitioners.app,
    name="practitioner",
    help="coordinator: manage practitioners",
    no_args_is_help=True,
)
app.add_typer(
    api_keys.app,
    name="apikey",
    help="administrator: HTTP API keys (stored hashed)",
    no_args_is_help=True,
)


def main(argv: list[str] | None = None) -> int:
    """Run one command (``argv``, default ``sys.argv[1:]``); its exit status."""
    try:
        typer.main.get_command(app).main(args=argv, prog_name="starter.py")
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    except Exception as error:
        given = sys.argv[1:] if argv is None else argv
        kept = _keep_details(error, given[0] if given else "")
        where = f"; the details are in {kept}" if kept else ""
        print(
            f"error: the command failed unexpectedly ({type(error).__name__}){where}",
            file=sys.stderr,
        )
        return 1
    return 0


def _keep_details(error: BaseException, command: str) -> Path | None:
    """Append ``error``'s traceback to ``<data_dir>/cli-errors.log`` (0600: like the database
    beside it, it may hold what was typed); its path, or None if it cannot be written."""
    try:
        from bootstrap import load_settings

        folder = load_settings().data_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / ERROR_LOG
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "w") as log:
            # The command's name only: its arguments may be personal data.
            log.write(f"--- {datetime.now(UTC).isoformat()} {command}\n")
            traceback.print_exception(error, file=log)
        return path
    except Exception:
        return None
