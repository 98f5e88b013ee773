"""Files evalkit writes get the permissions the user's umask asks for. `tempfile.mkstemp` (used for
atomic writes) and safetensors' writer create files 0600 whatever the umask, which leaves
`picked.json`, `model_outputs.json` and checkpoints unreadable to a team sharing a run folder."""

from __future__ import annotations

import os
import threading
from pathlib import Path

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask (reading it means setting it; the lock keeps two threads from racing)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def apply_umask(path: str | Path) -> None:
    """Give a file we wrote (or every file and folder under a folder we wrote) the mode a plain
    open()/mkdir() would have: 0666 / 0777 minus the umask."""
    mask = current_umask()
    root = Path(path)
    if root.is_file():
        os.chmod(root, 0o666 & ~mask)
        return
    os.chmod(root, 0o777 & ~mask)
    for folder, subfolders, files in os.walk(root):
        for name in subfolders:
            os.chmod(os.path.join(folder, name), 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o666 & ~mask)
