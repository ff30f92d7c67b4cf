"""Calling the command line in-process, as a user at a terminal would."""

from __future__ import annotations

import pytest

from pipelines.cli import main


def refused_by_the_parser(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The parser's one-line complaint about `argv`, after its usage line."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]
