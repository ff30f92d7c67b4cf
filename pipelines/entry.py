"""The `ownership` console script's entry point. It loads the command line inside its own
Ctrl-C handling: the command line's imports (pydantic, Rich, ...) take a moment, and a Ctrl-C
during them would otherwise end in a traceback before `pipelines.cli.main` could catch it.
Only the standard library is imported here, so that nothing slow runs before the `try`."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

# the exit code of a command stopped by Ctrl-C, as a shell reports SIGINT (128 + 2)
INTERRUPTED = 130
# and of one stopped by SIGTERM (`systemctl stop`, `timeout`, a container's stop): 128 + 15
TERMINATED = 143


# what no file or folder the commands write may grant others: the scores, the snapshot, the
# rejects, the exports and the histories hold phone numbers (the store is its owner's alone)
WITHHELD_FROM_OTHERS = 0o007


def main() -> int:
    withhold_from_others()
    stop_on_sigterm_as_on_ctrl_c()
    try:
        from pipelines.cli import main as run_command_line
    except KeyboardInterrupt:
        said, code = stopped()
        print(said, file=sys.stderr)
        return code
    code = run_command_line()
    # done, and said so: a Ctrl-C while Python shuts down (a fifth of a second) would kill
    # the process by the signal, and a finished command would look stopped
    _done.append(True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


def withhold_from_others() -> None:
    """The process's umask, with every permission of others' taken away: what the operator's
    umask grants the owner and the group stays (share the files through a group)."""
    os.umask(os.umask(0) | WITHHELD_FROM_OTHERS)


_sigterm_received: list[int] = []
_done: list[bool] = []


def stop_on_sigterm_as_on_ctrl_c() -> None:
    """SIGTERM stops a command as Ctrl-C does, through whatever the command does with a Ctrl-C
    at that moment (a scoring run publishing its files finishes them first, `notifications
    forget` ends its batch), rather than at once, leaving its work folder behind. A server
    (`serve`, `worker`) installs its own on starting."""

    def terminate(number: int, frame: FrameType | None) -> None:
        _sigterm_received.append(number)
        if _done:  # the command is done: ended by the signal, as before it was handled at all
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)
            return
        on_ctrl_c = signal.getsignal(signal.SIGINT)
        if callable(on_ctrl_c):
            on_ctrl_c(signal.SIGINT, frame)
        else:
            # Ctrl-C ignored: a shell's background job (`cmd &` in a script) starts so, and
            # SIGTERM must still stop it, cleanly
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)


def stopped() -> tuple[str, int]:
    """What a stopped command says and its exit code: by SIGTERM, or by a Ctrl-C."""
    return ("terminated", TERMINATED) if _sigterm_received else ("interrupted", INTERRUPTED)
