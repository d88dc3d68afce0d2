"""Content-addressed archive: every received file's exact bytes, stored before anything parses them."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from ..filenames import safe_suffix
from ..workspace import atomic_write, owner_only


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The digest of a file, read in pieces (it may be larger than memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class Archive:
    """Files and folders readable by the owner only (0o400 / 0o700 on POSIX): they hold personal data."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        owner_only(root, directory=True)

    def path_for(self, digest: str, ext: str) -> Path:
        return self.root / digest[:2] / f"{digest}{safe_suffix(ext.lower())}"

    def put_file(self, source: Path, ext: str) -> tuple[str, int]:
        """Store a file too large to hold in memory, copied in pieces. Returns (sha256, size)."""
        h = hashlib.sha256()
        folder = self.root / "incoming"
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            owner_only(folder, directory=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            size = 0
            with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
                while chunk := src.read(1 << 20):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            path = self.path_for(digest, ext)
            if path.exists() and path.stat().st_size == size:
                return digest, size
            _replaceable(path)
            if not path.parent.is_dir():
                path.parent.mkdir(parents=True, exist_ok=True)
                owner_only(path.parent, directory=True)
            os.replace(tmp, path)
            os.chmod(path, stat.S_IRUSR)
            return digest, size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def put(self, data: bytes, ext: str) -> tuple[str, Path]:
        """Store ``data`` (idempotent: the same bytes are stored once). Returns (sha256, path)."""
        digest = sha256(data)
        path = self.path_for(digest, ext)
        if path.exists() and path.stat().st_size == len(data):
            return digest, path
        _replaceable(path)
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


def _replaceable(path: Path) -> None:
    """A damaged copy (its size wrong) is replaced: made writable first, as Windows will not replace a read-only file."""
    if path.exists():
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
