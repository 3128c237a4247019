"""File-mode layer: the files the dashboard creates hold password hashes and operation history (the SQLite database,
its backups) or what people did (the logs), so they are created readable by their owner only: files 0600, folders
0700. Existing files and folders (an adopted scheduler database, its folder) keep the mode their owner gave them."""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
PRIVATE_UMASK = 0o077  # for child processes that write files of ours (pg_dump)


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600; FileExistsError when something is there (a new name is claimed atomically).

    Only for a file no connection of this process has open yet: SQLite then writes into it, and its -wal and -shm
    files take the database file's mode."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    os.close(descriptor)


def make_private_folder(path: Path) -> None:
    """Create `path` (and missing parents) with mode 0700; an existing folder is left as it is."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):  # data/ and data/logs/ alike: mkdir(parents=True) would make parents 0755
        folder.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)
        os.chmod(folder, PRIVATE_FOLDER)  # mkdir's mode is filtered by the umask


def private_opener(path: str, flags: int) -> int:
    """An `opener` for open(): new files get mode 0600 whatever the umask (log files, rotated or not)."""
    return os.open(path, flags, PRIVATE_FILE)
