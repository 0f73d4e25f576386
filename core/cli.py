"""Argument parsing for the CLIs: a bad flag or value is one `error:` line, like every other user error.

argparse's own `error` prints the whole usage block before its message; with several flags per CLI that
block buries the one line that says what is wrong. `ArgumentParser.error` raises `UserError` instead, which
`core.errors.run_cli` prints as `error: <message>` with exit status 2 (argparse's status for usage errors).
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from core.errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` whose errors are one line naming the flag, with a pointer to `--help`."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see {self.prog} --help)")
