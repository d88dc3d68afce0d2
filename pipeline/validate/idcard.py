"""GB 11643-1999 citizen identity numbers: the ISO 7064 MOD 11-2 check digit, and masking."""

from __future__ import annotations

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def is_valid(number: str) -> bool:
    return (
        len(number) == 18
        and number[:17].isdigit()
        and number[17] in "0123456789X"
        and check_digit(number[:17]) == number[17]
    )


def mask(number: str) -> str:
    """110105********002X: the region and the last four kept, birth date and sequence hidden."""
    if len(number) < 11:  # too short to keep 10 characters and hide anything: all hidden
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else name
