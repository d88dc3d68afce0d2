"""Template signatures: a keyed hash of village code, period and template version.

The key is a secret kept in the workspace, so a village cannot make a template for another
village or month that passes as genuine. It is a guard against mix-ups and casual tampering,
not cryptographic security for the workbook's contents.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

BLANK_VILLAGE = "*"


def new_secret() -> str:
    return secrets.token_hex(32)


def sign(secret: str, programme_id: str, village_code: str, period: str, version: str) -> str:
    message = "|".join((programme_id, village_code, period, version)).encode("utf-8")
    return hmac.new(secret.encode("ascii"), message, hashlib.sha256).hexdigest()[:24].upper()


def verify(secret: str, programme_id: str, village_code: str, period: str, version: str, signature: str) -> bool:
    expected = sign(secret, programme_id, village_code, period, version)
    return hmac.compare_digest(expected, str(signature or "").strip().upper())
