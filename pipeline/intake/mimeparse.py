"""Parse one raw message (compat32, as ``mime`` needs) in memory about twice its size.

``email.message_from_bytes`` first copies the whole message into a StringIO (four bytes a
character) and then keeps every line of a base64 attachment as a string of its own (each about
twice the size of its text): a 68 MB message cost over 500 MB. Here the parser is fed slices, from
memory or from the archived .eml file, and a run of base64 lines is kept as one string.
"""

from __future__ import annotations

import email.feedparser
import email.policy
import re
from email.feedparser import BufferedSubFile  # type: ignore[attr-defined]  # (not in the stubs)
from email.message import Message
from pathlib import Path
from typing import Any

FEED = 64 * 1024  # bytes handed to the parser at a time
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]{1,998}\r?\n")


class _Lines(BufferedSubFile):
    """The parser's line buffer, holding a run of base64 lines as ONE string (newlines kept): the
    parts come out the same, but a 50 MB attachment is not 900,000 string objects (each twice
    the size of its text). A boundary ("--…") or header line is never in such a run."""

    def pushlines(self, lines: Any) -> None:
        merged, run = [], []
        for line in lines:
            if _BASE64_LINE.fullmatch(line):
                run.append(line)
                continue
            if run:
                merged.append("".join(run))
                run = []
            merged.append(line)
        if run:
            merged.append("".join(run))
        super().pushlines(merged)


def parse(raw: bytes | Path, digest: Any = None) -> Message:
    """compat32, fed in slices (from memory or from the archived file): ``message_from_bytes``
    would first copy the whole message into a StringIO (four bytes a character), about five times
    the message in memory at once. ``digest`` (a hashlib object) sees every byte fed."""
    parser = email.feedparser.BytesFeedParser(policy=email.policy.compat32)
    setattr(parser, "_input", _Lines())  # noqa: B010 - private, read lazily by the parser's generator (not started yet)
    if isinstance(raw, Path):
        with raw.open("rb") as fh:
            first = True
            while chunk := fh.read(FEED):
                if digest is not None:
                    digest.update(chunk)
                parser.feed(_header_crs(chunk) if first else chunk)
                first = False
        return parser.close()
    if digest is not None:
        digest.update(raw)
    view = memoryview(raw)
    for start in range(0, len(raw), FEED):
        chunk = bytes(view[start:start + FEED])
        parser.feed(_header_crs(chunk) if start == 0 else chunk)
    return parser.close()


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_BARE_CR = re.compile(rb"\r(?!\n)")


def _header_crs(first: bytes) -> bytes:
    """The message's first bytes with a bare CR in its header block made a space. The parser ends the header
    block at one: a display name typed "Bai\rShi" made the whole message body text, a village's report
    taken for spam from nobody. The body is never touched (a binary attachment's bytes stay as sent);
    a header block longer than the first slice is left as it is."""
    end = _HEADER_END.search(first)
    if end is None or b"\r" not in first[:end.start()]:
        return first
    return _BARE_CR.sub(b" ", first[:end.start()]) + first[end.start():]
