"""The CJK font documents embed (the statement PDF): a TrueType file installed by a Debian
package, never one copied into the repository.

Config ``PDF_FONT`` (environment ``FSM_PDF_FONT``) names it: a path, or ``path#N`` for face N
of a ``.ttc`` collection. Empty: the first of `DEFAULT_FONTS` that is installed.

Why these: reportlab embeds a TrueType font as a subset of the glyphs a document uses, so any
viewer shows it; it cannot embed CFF outlines (Noto CJK, Source Han), and the built-in CID font
STSong-Light is not embedded at all (a viewer without Adobe's GB1 pack shows blank cells). The
font must also have Latin letters and digits, since a statement is mostly figures:
DroidSansFallbackFull.ttf (fonts-droid-fallback) has CJK only, so it is not a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int = 0  # the face within a .ttc collection
    package: str | None = None  # the Debian package that installs it

    def __str__(self) -> str:
        return f"{self.path}#{self.index}" if self.index else str(self.path)


#: where Debian's packages put CJK TrueType fonts with Latin letters and digits, best first
DEFAULT_FONTS = (
    FontFile(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0, "fonts-wqy-zenhei"),
    FontFile(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0, "fonts-wqy-microhei"),
    FontFile(Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0, "fonts-arphic-uming"),
)
#: the config key (and its environment variable in config.yml)
CONFIG_KEY = "PDF_FONT"


class FontMissing(Exception):
    """No usable CJK font: the message names the package to install or the setting to fix."""


def parse(value: str) -> FontFile:
    """``path`` or ``path#N`` (face N of a collection)."""
    path, sep, index = value.strip().rpartition("#")
    if not sep or not index.isdigit():
        return FontFile(Path(value.strip()))
    return FontFile(Path(path), int(index))


def cjk_font(configured: str | None = None, candidates: tuple[FontFile, ...] = DEFAULT_FONTS) -> FontFile:
    """The configured font file, else the first default installed; FontMissing naming the
    Debian package to install (or the bad setting) when there is none."""
    if configured and configured.strip():
        font = parse(configured)
        if not font.path.is_file():
            raise FontMissing(
                f"{CONFIG_KEY} names {font.path}, which is not a file: install the package that provides it "
                f"(e.g. apt-get install {candidates[0].package if candidates else 'fonts-wqy-zenhei'}) "
                f"or correct {CONFIG_KEY} (environment FSM_{CONFIG_KEY})"
            )
        return font
    for font in candidates:
        if font.path.is_file():
            return font
    looked = ", ".join(str(f.path) for f in candidates)
    packages = " or ".join(f.package for f in candidates if f.package) or "fonts-wqy-zenhei"
    raise FontMissing(
        f"no CJK TrueType font for PDF documents: none of {looked} is installed. "
        f"Install the Debian package {packages} (apt-get install {candidates[0].package if candidates else packages}), "
        f"or set {CONFIG_KEY} (environment FSM_{CONFIG_KEY}) to a TrueType font with Chinese, Latin and digits"
    )


_REGISTERED: dict[tuple[str, str], str] = {}


def reportlab_font(font: FontFile, required: str, prefix: str = "CJK") -> str:
    """Register `font` with reportlab once (TrueType: embedded as a subset) and return its name;
    FontMissing when it cannot be embedded or lacks a glyph of `required` (the characters every
    document of its kind prints: Chinese, Latin letters, digits)."""
    key = (str(font), prefix)
    if key not in _REGISTERED:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFError, TTFont

        try:
            tt = TTFont(f"{prefix}{len(_REGISTERED)}", str(font.path), subfontIndex=font.index)
        except (TTFError, OSError) as exc:
            raise FontMissing(f"{font} cannot be embedded in a PDF ({exc}): use a TrueType CJK font") from None
        missing = "".join(c for c in required if ord(c) not in tt.face.charToGlyph)
        if missing:
            raise FontMissing(
                f"{font} has no glyphs for {missing!r}: a document needs Chinese, Latin letters and digits "
                "(fonts-wqy-zenhei has all three)"
            )
        pdfmetrics.registerFont(tt)
        _REGISTERED[key] = tt.fontName
    return _REGISTERED[key]
