"""The `ownership` console script: Ctrl-C while the command line is still loading its libraries
ends the command as Ctrl-C does once it runs (exit 130, one line, no traceback)."""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
INTERRUPTED = 130  # what `ownership` exits with on Ctrl-C, as a shell reports SIGINT


class CtrlCWhileLoading(MetaPathFinder):
    """Ctrl-C arriving while `pipelines.cli` (and the libraries it loads) are imported."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "pipelines.cli":
            raise KeyboardInterrupt
        return None


def run_console_script() -> int:
    """What the installed `ownership` script does: import its target, call it, exit with it."""
    target = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]["ownership"]
    module, function = target.split(":")
    try:
        code: int = getattr(importlib.import_module(module), function)()
    except KeyboardInterrupt:  # not caught: Python would print a traceback
        pytest.fail("Ctrl-C escaped the console script as a traceback")
    return code


def test_ctrl_c_while_the_command_line_loads_exits_130_with_one_line_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "pipelines.cli", raising=False)  # not yet loaded
    monkeypatch.setattr(sys, "meta_path", [CtrlCWhileLoading(), *sys.meta_path])
    monkeypatch.setattr(sys, "argv", ["ownership", "check", "+79234567823"])

    assert run_console_script() == INTERRUPTED

    captured = capsys.readouterr()
    assert captured.err.strip() == "interrupted"
    assert "Traceback" not in captured.out + captured.err


def test_the_console_script_still_runs_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["ownership", "--help"])

    with pytest.raises(SystemExit) as exit_:
        run_console_script()

    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: ownership")
