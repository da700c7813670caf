"""Jobs for the face engine's tests: module-level functions, so a worker process can import them."""

import os
from pathlib import Path


def die_once(marker: str) -> str:
    """The first call ends its worker process (as a crash in dlib would); the next answers."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os._exit(1)
    return "answered by another worker"


def die() -> None:
    os._exit(1)


def own_pid() -> int:
    return os.getpid()
