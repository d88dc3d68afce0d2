"""The [MS-OVBA] 2.4.1 compression: the LZ77 variant that VBA uses for the ``dir`` stream and module source.

A compressed container is the signature byte 0x01 followed by chunks. Each chunk encodes up to
4096 bytes of input and starts with a 2-byte header: bits 0-11 hold the chunk's size including
the header minus 3, bits 12-14 the signature 0b011, bit 15 whether the chunk is compressed
(token sequences) or raw (4096 bytes copied as they are). A token sequence is a flag byte and up
to eight tokens; flag bit *i* set means token *i* is a 2-byte copy token (offset, length back
into the chunk's already decoded bytes), clear means a literal byte. How many of the copy
token's 16 bits hold the offset grows with the position in the chunk (4 bits near the start, 12
at the end), so far-back copies are short and near copies can be long.

The encoder is the spec's greedy one (2.4.1.3.19.4 "Matching"): at each position take the
longest earlier match that a copy token can express, the nearest one on ties. Output may differ
in offsets from Office's own compressor; any valid container decodes to the same bytes.
"""

from __future__ import annotations

CHUNK_SIZE = 4096  # decompressed bytes per chunk (2.4.1.1.3)
_MAX_BODY = 4096  # compressed chunk data after the header; header size field tops out at 4098 - 3
_MAX_CANDIDATES = 256  # earlier positions examined per match: bounds the time on pathological input


def compress(data: bytes) -> bytes:
    """Compress ``data`` into an MS-OVBA CompressedContainer."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), CHUNK_SIZE):
        out += _chunk(data[start : start + CHUNK_SIZE])
    return bytes(out)


def decompress(container: bytes) -> bytes:
    """Decode an MS-OVBA CompressedContainer (2.4.1.3.1); raises ValueError when it is malformed."""
    if not container or container[0] != 0x01:
        raise ValueError("not an MS-OVBA compressed container (signature byte is not 0x01)")
    out = bytearray()
    pos = 1
    while pos < len(container):
        if pos + 2 > len(container):
            raise ValueError(f"chunk header cut off at byte {pos}")
        header = int.from_bytes(container[pos : pos + 2], "little")
        if (header >> 12) & 0b111 != 0b011:
            raise ValueError(f"bad chunk signature at byte {pos}")
        end = pos + (header & 0x0FFF) + 3
        if end > len(container):
            raise ValueError(f"chunk at byte {pos} runs past the end of the container")
        body = container[pos + 2 : end]
        if header & 0x8000:
            _decode_tokens(body, out)
        elif len(body) == CHUNK_SIZE:
            out += body
        else:
            raise ValueError(f"raw chunk at byte {pos} holds {len(body)} bytes, not 4096")
        pos = end
    return bytes(out)


def _chunk(chunk: bytes) -> bytes:
    body = _encode_tokens(chunk)
    if len(body) <= _MAX_BODY:
        return _header(len(body), compressed=True) + body
    if len(chunk) == CHUNK_SIZE:
        # Incompressible: the spec's RawChunk, 4096 bytes as they are.
        return _header(CHUNK_SIZE, compressed=False) + chunk
    # A short final chunk that does not fit either: a raw chunk would have to be padded to 4096
    # bytes with zeros (2.4.1.3.10), changing the data. Two compressed chunks keep it exact; every
    # decoder following 2.4.1.3.1 just appends each chunk's output. Only near-random data gets
    # here (some 3600+ bytes without repeats), never VBA source text.
    half = len(chunk) // 2
    return _chunk(chunk[:half]) + _chunk(chunk[half:])


def _header(body_len: int, *, compressed: bool) -> bytes:
    value = (body_len + 2 - 3) | 0x3000 | (0x8000 if compressed else 0)
    return value.to_bytes(2, "little")


def _bit_count(position: int) -> int:
    """Offset bits of a copy token at ``position`` within its chunk (2.4.1.3.19.1 CopyToken Help)."""
    return max((position - 1).bit_length(), 4)  # ceil(log2(position)), at least 4


def _encode_tokens(chunk: bytes) -> bytes:
    out = bytearray()
    seen: dict[bytes, list[int]] = {}  # 3-byte prefix → earlier positions starting with it
    pos, end = 0, len(chunk)
    while pos < end:
        flag_at, flags = len(out), 0
        out.append(0)
        for bit in range(8):
            if pos >= end:
                break
            offset, length = _match(chunk, pos, seen)
            if length:
                bits = _bit_count(pos)
                out += (((offset - 1) << (16 - bits)) | (length - 3)).to_bytes(2, "little")
                flags |= 1 << bit
            else:
                out.append(chunk[pos])
                length = 1
            for p in range(pos, min(pos + length, end - 2)):  # every position stepped over can be matched later
                seen.setdefault(chunk[p : p + 3], []).append(p)
            pos += length
        out[flag_at] = flags
    return bytes(out)


def _match(chunk: bytes, pos: int, seen: dict[bytes, list[int]]) -> tuple[int, int]:
    """(offset, length) of the best earlier match at ``pos``, or (0, 0) when none reaches 3 bytes."""
    candidates = seen.get(chunk[pos : pos + 3])
    if not candidates:
        return 0, 0
    limit = min((0xFFFF >> _bit_count(pos)) + 3, len(chunk) - pos)
    best_len = best_at = 0
    for cand in reversed(candidates[-_MAX_CANDIDATES:]):  # nearest first, so ties keep the nearest
        n = _common_length(chunk, cand, pos, limit)
        if n > best_len:
            best_len, best_at = n, cand
            if n == limit:
                break
    return (pos - best_at, best_len) if best_len >= 3 else (0, 0)


def _common_length(buf: bytes, a: int, b: int, limit: int) -> int:
    """Length of the common run of ``buf[a:]`` and ``buf[b:]``, at most ``limit``.

    ``a < b`` and the runs may overlap: the decoder copies byte by byte from its own output, so
    an overlapping copy repeats a pattern, and comparing against the input gives the same answer.
    """
    n = 0
    while n + 32 <= limit and buf[a + n : a + n + 32] == buf[b + n : b + n + 32]:  # whole blocks first
        n += 32
    while n < limit and buf[a + n] == buf[b + n]:
        n += 1
    return n


def _decode_tokens(body: bytes, out: bytearray) -> None:
    start, i = len(out), 0
    while i < len(body):
        flags = body[i]
        i += 1
        for bit in range(8):
            if i >= len(body):
                break
            if not (flags >> bit) & 1:
                out.append(body[i])
                i += 1
                continue
            if i + 2 > len(body):
                raise ValueError("copy token cut off")
            token = int.from_bytes(body[i : i + 2], "little")
            i += 2
            bits = _bit_count(len(out) - start)
            length = (token & (0xFFFF >> bits)) + 3
            src = len(out) - ((token >> (16 - bits)) + 1)
            if src < start:
                raise ValueError("copy token reaches before the start of its chunk")
            if src + length <= len(out):
                out += out[src : src + length]
            else:  # overlapping copy: byte by byte, each new byte may be copied again
                for k in range(length):
                    out.append(out[src + k])
