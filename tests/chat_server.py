"""Start the chat app on a free loopback port: shared by the UI, browser and load tests."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ui.py is a script at the repository root, not part of the package
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(assistant: Any, *, feedback: Path, export_dir: Path, **build: Any) -> Iterator[str]:
    """The app on 127.0.0.1 for the duration of the block; yields its URL."""
    import ui

    app = ui.build_app(assistant, feedback_path=feedback, export_dir=export_dir, **build)
    port = free_port()
    ui.launch(app, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()
