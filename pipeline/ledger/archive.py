"""Content-addressed archive: every received file's exact bytes, stored before anything parses them."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from ..workspace import atomic_write, owner_only


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Archive:
    """Files and folders readable by the owner only (0o400 / 0o700 on POSIX): they hold personal data."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        owner_only(root, directory=True)

    def path_for(self, digest: str, ext: str) -> Path:
        return self.root / digest[:2] / f"{digest}{ext.lower()}"

    def put(self, data: bytes, ext: str) -> tuple[str, Path]:
        """Store ``data`` (idempotent: the same bytes are stored once). Returns (sha256, path)."""
        digest = sha256(data)
        path = self.path_for(digest, ext)
        if path.exists() and path.stat().st_size == len(data):
            return digest, path
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            owner_only(path.parent, directory=True)
        atomic_write(path, data)
        os.chmod(path, stat.S_IRUSR)
        return digest, path

    def get(self, digest: str, ext: str) -> bytes:
        data = self.path_for(digest, ext).read_bytes()
        if sha256(data) != digest:
            raise OSError(f"archive file {digest} does not match its hash")
        return data
