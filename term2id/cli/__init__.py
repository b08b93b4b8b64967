"""The `term2id` command: thin adapters over core (and training), one subcommand each.

Errors from core (Term2IdError) become one line on stderr and a non-zero exit code; anything
else is a bug and keeps its traceback (with --verbose) so it can be reported.
"""

from __future__ import annotations

import logging
import sys

from rich.markup import escape

from term2id.cli.common import err
from term2id.core.errors import Term2IdError


def main() -> None:
    # Standalone mode: typer's own click (vendored in newer typer, the click package in older
    # ones) prints usage errors with the usage line and exits 2; we never name click's classes.
    # Imported here: `term2id train` imports term2id.cli.options, and the app imports it.
    from term2id.cli.app import app

    try:
        app(prog_name="term2id", standalone_mode=True)
    except Term2IdError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except OSError as exc:  # disk full, permission denied, ...: the user can act on these
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"[red]error:[/] {where}{exc.strerror or exc}", highlight=False)
        sys.exit(1)
    except Exception as exc:  # a bug: one line here, the traceback with --verbose
        logging.getLogger(__name__).info("unexpected error", exc_info=True)
        message = " ".join(str(exc).split())[:300]
        err.print(
            f"[red]error:[/] unexpected {type(exc).__name__}: {message} "
            "(run again with --verbose for the details, and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
