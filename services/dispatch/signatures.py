"""The customer's signature drawn on screen at check-out: a PNG sent as a data URL
(``data:image/png;base64,…``), checked here before it is kept with the visit.

Plain Python: what a signature must be (a PNG by its signature bytes and header, a sensible
size) and how it goes back out (a data URL again).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 200 * 1024  # a signature pad's PNG is a few kB; this is generous
MAX_TEXT = len(PREFIX) + (MAX_BYTES * 4) // 3 + 4  # the data URL of the largest PNG allowed
MIN_SIDE, MAX_SIDE = 50, 4000  # pixels


class BadSignature(ValueError):
    """The text is not an acceptable signature; the message says why (in English, like the
    schemas' messages)."""


@dataclass(frozen=True)
class Signature:
    png: bytes
    width: int
    height: int


def decode(text: str) -> Signature:
    """The PNG a data URL carries, with its size; `BadSignature` unless it is a PNG image of
    MIN_SIDE..MAX_SIDE pixels a side and at most MAX_BYTES."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise BadSignature("Must be a PNG image as a data URL (data:image/png;base64,...).")
    if len(text) > MAX_TEXT:
        raise BadSignature(f"The signature image must be at most {MAX_BYTES // 1024} kB.")
    try:
        png = base64.b64decode(text[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature("The signature image is not valid base64.") from None
    if len(png) > MAX_BYTES:
        raise BadSignature(f"The signature image must be at most {MAX_BYTES // 1024} kB.")
    if len(png) < 33 or not png.startswith(PNG_MAGIC) or png[12:16] != b"IHDR":
        raise BadSignature("The signature is not a PNG image.")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise BadSignature(f"The signature image must be {MIN_SIDE} to {MAX_SIDE} pixels a side.")
    return Signature(png, width, height)


def data_url(png: bytes | None) -> str | None:
    """The stored PNG as a data URL again (None: no signature)."""
    return PREFIX + base64.b64encode(png).decode("ascii") if png else None
