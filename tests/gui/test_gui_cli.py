"""`term2id gui` where no window can open: a clear message and an exit code, no core dump."""

from __future__ import annotations

import os
import subprocess
import sys


def test_without_a_display_the_command_says_so() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", "from term2id.cli import main; main()", "gui"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "no display" in done.stderr
    assert "Traceback" not in done.stderr
