"""User-facing errors: one clear line, a non-zero exit, never a bare traceback.

Every module raises a subclass of `UserError` for problems the user can fix (bad config, bad data,
bad checkpoint). CLIs wrap their `main` in `run_cli`, which prints `error: <message>` and exits 2,
and shows an `InputWarning` (usable input changed on load) as one `warning: <message>` line.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar


class UserError(Exception):
    """A problem with the user's input; the message is shown as is."""


class ConfigError(UserError, ValueError):
    """Invalid configuration value or key."""


class DataError(UserError, ValueError):
    """Malformed COCO data: JSON, image files or annotations."""


class CheckpointError(UserError, ValueError):
    """Checkpoint that cannot be read or does not fit the model."""


class TrainingError(UserError, RuntimeError):
    """Training cannot go on (diverged loss, ...)."""


class InputWarning(UserWarning):
    """The input was usable but changed on load (e.g. degenerate boxes dropped)."""


F = TypeVar("F", bound=Callable[..., object])


def user_message(exc: UserError) -> str:
    """The error's one line. A DataLoader worker's error is re-raised in the main process with the
    worker's traceback in its message; its last line holds the original `module.Class: message`."""
    text = str(exc)
    if "\nOriginal Traceback" in text:
        text = text.rstrip().splitlines()[-1].partition(": ")[2]
    return text


def _show_warning(show: Callable[..., None]) -> Callable[..., None]:
    """`warnings.showwarning` that prints an `InputWarning` as one `warning: ...` line, others via `show`."""

    def show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, InputWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            show(message, category, *args, **kwargs)

    return show_warning


def run_cli(main: F) -> F:
    """Decorate a CLI `main`: `UserError` becomes `error: ...` on stderr and exit status 2;
    an `InputWarning` is shown as one `warning: ...` line."""

    @functools.wraps(main)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning(warnings.showwarning)
                return main(*args, **kwargs)
        except UserError as exc:
            print(f"error: {user_message(exc)}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper  # type: ignore[return-value]
