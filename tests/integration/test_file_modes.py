"""What the `ownership` commands write holds phone numbers (histories, scores, the snapshot,
rejects, exports): none of it is readable by others than its owner and group, whatever the
operator's umask grants them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

# the console script, as `ownership` runs it
OWNERSHIP = [sys.executable, "-c", "import sys; from pipelines.entry import main; sys.exit(main())"]
# an umask granting others to read what is written, set in the shell that starts the command
UNDER_A_WORLD_READABLE_UMASK = ["sh", "-c", 'umask 022 && exec "$@"', "sh"]


def ownership(*argv: str, cwd: Path) -> None:
    subprocess.run(
        [*UNDER_A_WORLD_READABLE_UMASK, *OWNERSHIP, *argv],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, "OWNERSHIP_DATABASE_URL": f"sqlite:///{cwd / 'ownership.db'}"},
    )


def granted_to_others(folder: Path) -> list[str]:
    return [
        f"{path.relative_to(folder)} {stat.filemode(path.stat().st_mode)}"
        for path in [folder, *folder.rglob("*")]
        if path.stat().st_mode & stat.S_IRWXO
    ]


def test_a_history_and_its_scores_are_written_for_their_owner_and_group_alone(
    tmp_path: Path,
) -> None:
    ownership("synth", "--phones", "30", "--seed", "3", "--out", "history", cwd=tmp_path)
    ownership("score", "--events", "history", "--out", "scores", cwd=tmp_path)

    assert (tmp_path / "scores" / "snapshot.bin").exists()
    assert granted_to_others(tmp_path / "history") == []
    assert granted_to_others(tmp_path / "scores") == []
    assert stat.S_IMODE((tmp_path / "scores" / "scores.parquet").stat().st_mode) == 0o640
