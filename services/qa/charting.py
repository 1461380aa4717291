"""matplotlib (Agg) drawing in the CJK TrueType font of `shared.fonts`: the one way QA's charts get
their pyplot, the monthly report's (`report_files`) and the reports' (`reports`) alike, so Chinese
titles, labels and names render as glyphs in a PNG and stay text in an SVG."""

from __future__ import annotations

import logging
from typing import Any

from shared.fonts import FontFile

_ADDED: dict[str, str] = {}  # font path -> its family name, registered with matplotlib once


def font_name(font: FontFile) -> str:
    """The family name matplotlib knows `font` by, registering the file the first time."""
    path = str(font.path)
    if path not in _ADDED:
        from matplotlib import font_manager

        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # a .ttc face has no "normal" weight
        font_manager.fontManager.addfont(path)
        _ADDED[path] = font_manager.FontProperties(fname=path).get_name()
    return _ADDED[path]


def pyplot_in(font: FontFile) -> Any:
    """``matplotlib.pyplot`` on the Agg backend drawing every text in `font`; an SVG keeps its text as
    text (``svg.fonttype = none``), naming the font's family."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = font_name(font)
    plt.rcParams["axes.unicode_minus"] = False  # the CJK fonts' hyphen, not U+2212 they may lack
    plt.rcParams["svg.fonttype"] = "none"
    return plt
