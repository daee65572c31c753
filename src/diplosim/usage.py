"""Command-line parsing for the subcommands: a mistake is one line, never argparse's usage page."""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """A bad command line; argparse's message, kept to one line."""


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors raise ``UsageError`` instead of printing the usage and exiting."""

    def error(self, message: str):
        raise UsageError(message)
