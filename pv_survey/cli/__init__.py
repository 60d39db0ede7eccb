"""The ``pv-survey`` command line: a click group, one module per subcommand (as rasterio's ``rio``).

Only this package talks to the user. Library errors (:class:`pv_survey.errors.PVSurveyError`)
become one line on stderr and exit code 2 here, in :func:`main`, never a traceback.
"""

from __future__ import annotations

import logging
import sys

import click

from ..errors import PVSurveyError
from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.version_option(__version__, prog_name="pv-survey")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Rooftop solar (PV) potential survey and installation plan for Guangzhou Tianhe.

    Run `pv-survey run` with no options to survey the embedded demo district;
    every subcommand explains itself with --help.
    """
    global _VERBOSE
    _VERBOSE = verbose
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    for handler in logging.getLogger().handlers:  # no password of a connection URL ever reaches the console
        handler.addFilter(_redact_record)
    for noisy in ("numba", "fiona", "rasterio", "pyogrio", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.ensure_object(dict)


#: ``-v`` count of the current invocation (the error report shows the causes when > 0).
_VERBOSE = 0


def _redact(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@`` or ``password=...`` replaced by ``***``."""
    from ..outputs.manifest import redact_url

    return redact_url(text)


def _redact_record(record: logging.LogRecord) -> bool:
    """Logging filter: the record's message with connection passwords hidden (always passes)."""
    msg = record.getMessage()
    clean = _redact(msg)
    if clean != msg:
        record.msg, record.args = clean, ()
    return True


def error_causes(exc: BaseException) -> list[str]:
    """The chain of causes of ``exc`` (``raise ... from cause``), outermost first, one line each."""
    out, seen = [], {id(exc)}
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        msg = " ".join(str(cause).split()) or "(no message)"
        out.append(f"{type(cause).__module__}.{type(cause).__qualname__}: {msg}")
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    return out


def _register() -> None:
    """Import the subcommand modules; each adds itself to :data:`cli`."""
    from . import run, demo_data, energy, shade, validate  # noqa: F401
    from . import batch  # noqa: F401


def _interrupt_again(unraisable) -> None:
    """``sys.unraisablehook`` of a command: a Ctrl-C that falls while Python runs a finalizer (a weakref
    callback or ``__del__``, e.g. during a garbage collection) cannot be raised there; Python would
    print it as "Exception ignored ... Traceback ... KeyboardInterrupt" and carry on as if no Ctrl-C had
    come. It is signalled again instead, so the command ends as interrupted (one line, exit 130)
    once it is back in ordinary code. Anything else goes to the previous hook."""
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        import threading

        # sent from another thread a moment later: raised here, it would be lost inside this hook again
        threading.Thread(target=_signal_main_thread, args=(threading.main_thread().ident,), daemon=True,
                         name="pv-survey-interrupt").start()
        return
    _previous_unraisablehook(unraisable)


_previous_unraisablehook = sys.unraisablehook


def _signal_main_thread(ident: int) -> None:
    """SIGINT to the main thread after :data:`_REINTERRUPT_DELAY_S` (wakes it from a sleep or a wait)."""
    import signal
    import time

    time.sleep(_REINTERRUPT_DELAY_S)
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(ident, signal.SIGINT)
    else:  # pragma: no cover - Windows: the interrupt is raised when the main thread next runs Python code
        import _thread
        _thread.interrupt_main(signal.SIGINT)


#: Delay before a Ctrl-C lost in a finalizer is sent again: the finalizer and the hook have
#: returned by then (project choice). [s]
_REINTERRUPT_DELAY_S = 0.05


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors -> one line, exit code 2; Ctrl-C -> one line, exit 130."""
    _register()
    global _previous_unraisablehook
    if sys.unraisablehook is _interrupt_again:  # a command run from within a command: the hook is set
        _main(argv)
        return
    _previous_unraisablehook, sys.unraisablehook = sys.unraisablehook, _interrupt_again
    try:
        _main(argv)
    finally:
        sys.unraisablehook = _previous_unraisablehook


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="pv-survey", standalone_mode=False)
    except click.exceptions.Abort:  # click's form of Ctrl-C / SIGINT inside a command
        click.echo(_INTERRUPTED, err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.message = _redact(exc.message)
        exc.show()
        sys.exit(2 if exc.exit_code == 1 else exc.exit_code)
    except PVSurveyError as exc:
        click.echo(f"Error: {_redact(str(exc))}", err=True)
        if _VERBOSE:  # --verbose: the underlying GDAL / pandas / ... cause, for a bug report
            for line in error_causes(exc):
                click.echo(f"  caused by {_redact(line)}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo(_INTERRUPTED, err=True)
        sys.exit(130)


#: What an interrupted command says (outputs are committed all at once, so none is half written).
_INTERRUPTED = ("Interrupted; no partial outputs were left in place (run it again to finish: a batch skips the "
                "scenarios already done).")
