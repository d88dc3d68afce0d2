"""A small writer for [MS-CFB] compound files (version 3: 512-byte sectors), enough for ``vbaProject.bin``.

Layout of the file written, sector by sector after the 512-byte header: the FAT, the directory,
the mini FAT, the mini stream, then each large stream. Streams shorter than 4096 bytes live in
the mini stream (64-byte mini sectors chained by the mini FAT); larger ones get their own
sectors chained by the FAT. Every chain is contiguous, which keeps the bookkeeping trivial.

Written once, never edited: no free-space management, no DIFAT sectors (the header's 109 FAT
entries address about 6.8 MB, far beyond any VBA project), zero timestamps and CLSIDs so the
same input always gives the same bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096  # streams shorter than this go into the mini stream
_FAT_PER_SECTOR = SECTOR // 4
_MAX_FAT_SECTORS = 109  # all held in the header's DIFAT array

FREESECT, ENDOFCHAIN, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF
_STORAGE, _STREAM, _ROOT = 1, 2, 5
_RED, _BLACK = 0, 1
_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")


@dataclass(eq=False)
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    children: dict[str, _Entry] = field(default_factory=dict)  # keyed by upper-cased name
    sid: int = 0
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    color: int = _BLACK
    start: int = ENDOFCHAIN
    size: int = 0


def write_compound_file(streams: Mapping[str, bytes]) -> bytes:
    """A compound file holding ``streams``, keyed by path with "/" between storages ("VBA/dir").

    Storages are created as the paths need them. Names are at most 31 characters and unique
    without regard to case within their storage, as [MS-CFB] 2.6.1 requires.
    """
    root = _Entry("Root Entry", _ROOT)
    for path, data in streams.items():
        *storages, name = path.split("/")
        node = root
        for part in storages:
            node = node.children.setdefault(_check_name(part).upper(), _Entry(part, _STORAGE))
            if node.kind != _STORAGE:
                raise ValueError(f"{path!r}: {part!r} is a stream, not a storage")
        if _check_name(name).upper() in node.children:
            raise ValueError(f"duplicate entry {path!r}")
        node.children[name.upper()] = _Entry(name, _STREAM, bytes(data), size=len(data))

    entries = _number(root)
    for entry in entries:
        if entry.kind == _STORAGE:
            entry.start = 0  # storages own no sectors ([MS-CFB] 2.6.3)
        siblings = sorted(entry.children.values(), key=_order)
        entry.child = _tree(siblings, 0, len(siblings).bit_length() - 1)

    # The mini stream: small streams back to back, each padded to whole mini sectors.
    mini_stream = bytearray()
    mini_fat: list[int] = []
    big: list[_Entry] = []
    for entry in entries:
        if entry.kind != _STREAM or entry.size == 0:
            continue
        if entry.size >= MINI_CUTOFF:
            big.append(entry)
            continue
        entry.start = len(mini_fat)
        mini_fat += _chain(entry.start, _count(entry.size, MINI_SECTOR))
        mini_stream += _pad(entry.data, MINI_SECTOR)

    n_dir = _count(len(entries) * 128, SECTOR)
    n_minifat = _count(len(mini_fat) * 4, SECTOR)
    mini_fat += [FREESECT] * (n_minifat * _FAT_PER_SECTOR - len(mini_fat))
    n_mini = _count(len(mini_stream), SECTOR)
    rest = n_dir + n_minifat + n_mini + sum(_count(e.size, SECTOR) for e in big)
    n_fat = 1
    while n_fat * _FAT_PER_SECTOR < n_fat + rest:  # the FAT also maps its own sectors
        n_fat += 1
    if n_fat > _MAX_FAT_SECTORS:
        raise ValueError("compound file too large for this writer (it writes no DIFAT sectors)")

    fat = [FATSECT] * n_fat
    first_dir = len(fat)
    fat += _chain(first_dir, n_dir)
    first_minifat = len(fat) if n_minifat else ENDOFCHAIN
    fat += _chain(len(fat), n_minifat)
    if n_mini:
        root.start, root.size = len(fat), len(mini_stream)
        fat += _chain(len(fat), n_mini)
    for entry in big:
        entry.start = len(fat)
        fat += _chain(entry.start, _count(entry.size, SECTOR))
    fat += [FREESECT] * (n_fat * _FAT_PER_SECTOR - len(fat))

    difat = list(range(n_fat)) + [FREESECT] * (_MAX_FAT_SECTORS - n_fat)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII109I",
        _MAGIC, bytes(16), 0x003E, 0x0003, 0xFFFE, 9, 6, bytes(6),
        0, n_fat, first_dir, 0, MINI_CUTOFF, first_minifat, n_minifat, ENDOFCHAIN, 0, *difat,
    )
    directory = b"".join(_dir_entry(e) for e in entries)
    parts = [
        header,
        struct.pack(f"<{len(fat)}I", *fat),
        _pad(directory + _dir_entry(None) * (n_dir * 4 - len(entries)), SECTOR),
        struct.pack(f"<{len(mini_fat)}I", *mini_fat),
        _pad(bytes(mini_stream), SECTOR),
        *(_pad(e.data, SECTOR) for e in big),
    ]
    return b"".join(parts)


def _check_name(name: str) -> str:
    if not name or len(name.encode("utf-16-le")) > 62 or any(c in name for c in "/\\:!"):
        raise ValueError(f"invalid compound file entry name {name!r}")
    return name


def _number(root: _Entry) -> list[_Entry]:
    """Give every entry its directory index (the root is 0), storage by storage."""
    order, todo = [root], [root]
    while todo:
        for child in todo.pop(0).children.values():
            child.sid = len(order)
            order.append(child)
            todo.append(child)
    return order


def _order(entry: _Entry) -> tuple[int, str]:
    # [MS-CFB] 2.6.4: shorter names sort first, equal lengths compare the upper-cased names.
    return len(entry.name.encode("utf-16-le")), entry.name.upper()


def _tree(siblings: list[_Entry], depth: int, deepest: int) -> int:
    """Link sorted ``siblings`` into a balanced binary search tree; returns the root's index.

    Splitting at the middle puts every empty child pointer at one of two adjacent depths, so
    colouring the nodes on the deepest level red and all others black satisfies the red-black
    rules (equal black count on every path, no red node with a red child, black root). The
    deepest level of a tree of n nodes split this way is floor(log2(n)).
    """
    if not siblings:
        return NOSTREAM
    mid = len(siblings) // 2
    node = siblings[mid]
    node.left = _tree(siblings[:mid], depth + 1, deepest)
    node.right = _tree(siblings[mid + 1 :], depth + 1, deepest)
    node.color = _RED if depth and depth == deepest else _BLACK
    return node.sid


def _dir_entry(entry: _Entry | None) -> bytes:
    if entry is None:  # unused slot filling the last directory sector
        return struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM, bytes(16), 0, 0, 0, 0, 0)
    name = (entry.name + "\0").encode("utf-16-le")
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        name, len(name), entry.kind, entry.color, entry.left, entry.right, entry.child,
        bytes(16), 0, 0, 0, entry.start, entry.size,
    )


def _chain(first: int, count: int) -> list[int]:
    """FAT (or mini FAT) entries for ``count`` consecutive sectors starting at ``first``."""
    return [first + i + 1 for i in range(count - 1)] + [ENDOFCHAIN] * (count > 0)


def _count(size: int, unit: int) -> int:
    return -(-size // unit)


def _pad(data: bytes, unit: int) -> bytes:
    return data + bytes(-len(data) % unit)
