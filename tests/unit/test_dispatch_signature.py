"""The customer's signature drawn at check-out: what dispatch accepts (a PNG data URL of a sensible
size) and how it gives it back."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest

from services.dispatch import signatures
from services.dispatch.schemas import CheckOut
from shared.errors import ValidationFailed
from shared.validation import load


def png(width=300, height=120) -> bytes:
    """A real (blank, white) PNG of `width` × `height`."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return signatures.PNG_MAGIC + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def url(data: bytes) -> str:
    return signatures.PREFIX + base64.b64encode(data).decode()


def test_a_png_data_url_is_decoded_with_its_size_and_given_back_the_same():
    drawn = signatures.decode(url(png(320, 160)))
    assert (drawn.width, drawn.height) == (320, 160)
    assert drawn.png == png(320, 160)
    assert signatures.data_url(drawn.png) == url(png(320, 160))
    assert signatures.data_url(None) is None


@pytest.mark.parametrize(
    "text, why",
    [
        ("data:image/jpeg;base64,/9j/4AAQ", "PNG image as a data URL"),
        ("iVBORw0KGgo=", "PNG image as a data URL"),
        (signatures.PREFIX + "not base64!!", "not valid base64"),
        (signatures.PREFIX + base64.b64encode(b"GIF89a" + b"\x00" * 40).decode(), "not a PNG"),
        (url(png(20, 20)), "50 to 4000 pixels"),
        (url(png(5000, 60)), "50 to 4000 pixels"),
        (url(png() + b"\x00" * (signatures.MAX_BYTES + 1)), "at most 200 kB"),
    ],
)
def test_anything_else_is_refused_with_the_reason(text, why):
    with pytest.raises(signatures.BadSignature, match=why):
        signatures.decode(text)


def test_the_check_out_schema_names_the_signature_field():
    ok = load(CheckOut(), {"work_done": "换刀塔电机", "customer_confirmed": True, "signature": url(png())})
    assert ok["signature"].startswith(signatures.PREFIX)
    assert load(CheckOut(), {"work_done": "x", "customer_confirmed": False})["signature"] is None
    with pytest.raises(ValidationFailed) as caught:
        load(CheckOut(), {"work_done": "x", "customer_confirmed": True, "signature": "data:text/plain,hi"})
    assert list(caught.value.fields) == ["signature"]
