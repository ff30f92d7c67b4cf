"""Keeps the social-network simulators on the operator's script file (`simulator_script.py`).

The process that runs the simulators reads the file at the first round of its pump (its start
checked it already: a bad file stops it there), and then looks at it every round: a file changed
since, and left alone for half a second, is read again, and the numbers whose lines changed get
their new outcomes, the numbers taken out of it drawn outcomes again. A look is one `stat` of
the file, so it costs nothing to make it every round, and an edit is in force within a second.
The half second is an editor's saving in place: an empty file, then half of the text, must not
be followed meanwhile. A file found bad, or gone, is told once in the log, and the simulators
keep the script they followed: an editor that moves the old one aside while it writes the new
one must not drop every script meanwhile either.

The outcomes reach the simulators through their test scripts (`script_answer`,
`script_delivery`), so a scripted number behaves exactly as a test's does.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from delivery.channels.simulator_script import (
    ScriptedNumber,
    SimulatorScript,
    SimulatorScriptError,
    read_script,
)
from delivery.events import ReverificationAnswer

log = logging.getLogger(__name__)

# what tells one version of the file from the next: its times of change (of its text, and of
# the file: a copy that keeps the old modification time, `cp -p`, still changes the latter),
# size and inode (an editor that writes a new file and renames it over the old one changes it)
_Stamp = tuple[int, int, int, int]
# how long a changed file is left alone before it is read: an editor saving in place empties
# the file and then writes it, and a half-written line must not be followed
SETTLE_SECONDS = 0.5


class Scriptable(Protocol):
    """A simulator whose outcomes can be scripted per phone (`SocialNetworkSimulator`)."""

    def scripting(self) -> AbstractContextManager[None]: ...

    def script_answer(
        self, phone: str, answer: ReverificationAnswer | str | None, after: timedelta
    ) -> None: ...

    def script_delivery(
        self, phone: str, delivered_after: timedelta | None, read_after: timedelta | None = None
    ) -> None: ...

    def forget_scripts(self, phone: str) -> None: ...


class ScriptFollower:
    """A pump's `Runnable` that applies the script file to `simulators`; see the module."""

    def __init__(
        self,
        path: Path,
        simulators: Sequence[Scriptable],
        settle: float = SETTLE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._simulators = tuple(simulators)
        self._settle = settle
        self._monotonic = monotonic
        self._script = SimulatorScript.empty()
        self._looked = False  # the first look reads the file at once
        self._seen: _Stamp | None = None
        # a change seen, and since when, not read until it has been left alone a while
        self._changing: tuple[_Stamp | None, float] | None = None

    @property
    def script(self) -> SimulatorScript:
        """The script the simulators follow."""
        return self._script

    def start(self) -> None:
        """Read the file and apply it; raises SimulatorScriptError for a bad one."""
        stamp = self._stamp()
        script = read_script(self.path)
        added, _, _ = self._apply(script)
        self._seen, self._looked = stamp, True
        log.info("simulator script %s read: %d numbers scripted", self.path, added)

    def run_due(self) -> int:
        """Apply the file if it changed since the last look and has been left alone since;
        no events of its own."""
        stamp = self._stamp()
        if stamp == self._seen and self._looked:
            self._changing = None
            return 0
        if self._looked and not self._settled(stamp):
            return 0
        # marked seen before reading: a bad version is told once, not at every round
        first = not self._looked
        self._seen, self._looked, self._changing = stamp, True, None
        try:
            script = read_script(self.path)
        except SimulatorScriptError as error:
            log.error("%s; the simulators keep the script they were following", error)
            return 0
        added, changed, dropped = self._apply(script)
        log.info(
            "simulator script %s read%s: %d numbers scripted (%d new, %d changed, "
            "%d back to drawn outcomes)",
            self.path,
            "" if first else " again",
            len(script.numbers),
            added,
            changed,
            dropped,
        )
        return 0

    def _settled(self, stamp: _Stamp | None) -> bool:
        """Whether the file, changed, has stayed as `stamp` for the settling time."""
        now = self._monotonic()
        if self._changing is None or self._changing[0] != stamp:
            self._changing = (stamp, now)
        return now - self._changing[1] >= self._settle

    def _stamp(self) -> _Stamp | None:
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return found.st_mtime_ns, found.st_ctime_ns, found.st_size, found.st_ino

    def _apply(self, script: SimulatorScript) -> tuple[int, int, int]:
        """Hand `script` to the simulators: the numbers added, changed and dropped."""
        before, after = self._script.numbers, script.numbers
        dropped = [phone for phone in before if phone not in after]
        changed = [phone for phone, scripted in after.items() if before.get(phone) != scripted]
        for simulator in self._simulators:
            # as one change: a prompt sent meanwhile sees the old script or the new, never half
            with simulator.scripting():
                for phone in dropped:
                    simulator.forget_scripts(phone)
                for phone in changed:
                    simulator.forget_scripts(phone)
                    _script_number(simulator, after[phone])
        self._script = script
        added = sum(1 for phone in changed if phone not in before)
        return added, len(changed) - added, len(dropped)


def _script_number(simulator: Scriptable, scripted: ScriptedNumber) -> None:
    if scripted.answer is not None:
        answer, after = scripted.answer
        simulator.script_answer(scripted.phone, answer, after)
    if scripted.delivery is not None:
        delivered_after, read_after = scripted.delivery
        simulator.script_delivery(scripted.phone, delivered_after, read_after)
