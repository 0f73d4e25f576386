"""User-facing errors: one clear line, a non-zero exit, never a bare traceback.

Every module raises a subclass of `UserError` for problems the user can fix (bad config, bad data,
bad checkpoint). CLIs wrap their `main` in `run_cli`, which prints `error: <message>` and exits 2.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar


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


F = TypeVar("F", bound=Callable[..., object])


def run_cli(main: F) -> F:
    """Decorate a CLI `main`: `UserError` becomes `error: ...` on stderr and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return main(*args, **kwargs)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper  # type: ignore[return-value]
