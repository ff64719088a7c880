"""Build the certificate font: a TrueType subset of Noto Sans CJK SC (SIL OFL 1.1).

The committed file ``webapp/training/fonts/CertSans-SC.ttf`` was made by this script,
so a fresh machine needs no system fonts to print a certificate.  It keeps ASCII,
common punctuation, the 3,755 hanzi of GB 2312 level 1 (the everyday characters) and
every other hanzi the project's own text uses (definitions, demo data, messages: 驿…),
converts the CFF outlines to TrueType ones (fpdf2 embeds those as /FontFile2), and
renames the family as the OFL asks of a modified version.  At render time fpdf2
subsets it again to the glyphs a certificate uses.

Run: python scripts/build_certificate_font.py [path/to/NotoSansCJK-Regular.ttc]
"""
from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SC_INDEX = 2  # Noto Sans CJK SC in the collection
TARGET = Path(__file__).resolve().parents[1] / "webapp" / "training" / "fonts" / "CertSans-SC.ttf"
FAMILY = "UnionFlow Cert Sans"


def gb2312_level1() -> str:
    chars = []
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass  # the unused end of row 0xD7
    return "".join(chars)


ROOT = Path(__file__).resolve().parents[1]
PROJECT_TEXT = ("workflows/definitions/*.yaml", "webapp/**/*.py", "webapp/translations/*.pot")


def project_hanzi() -> str:
    found = set()
    for pattern in PROJECT_TEXT:
        for path in ROOT.glob(pattern):
            found |= {ch for ch in path.read_text(encoding="utf-8") if "\u4e00" <= ch <= "\u9fff"}
    return "".join(sorted(found))


def wanted_text() -> str:
    ascii_ = "".join(chr(c) for c in range(0x20, 0x7F))
    punctuation = "，。、；：？！“”‘’（）《》【】—…·～－／℃％：　"
    digits = "０１２３４５６７８９"
    return ascii_ + punctuation + digits + gb2312_level1() + project_hanzi()


def to_truetype(font: TTFont) -> None:
    """Replace CFF outlines by quadratic TrueType ones (fontTools' otf2ttf recipe)."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    font["maxp"].tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                 "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                 "maxComponentElements"):
        setattr(font["maxp"], attr, 0)
    font["maxp"].maxZones = 1
    font["maxp"].maxComponentDepth = 0
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0  # no glyph names: smaller
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    font.sfntVersion = "\x00\x01\x00\x00"


def rename(font: TTFont) -> None:
    names = font["name"]
    keep = {0, 7, 8, 9, 11, 12, 13, 14}  # copyright, trademark, vendor, designer, licence
    names.names = [n for n in names.names if n.nameID in keep]
    for name_id, text in ((1, FAMILY), (2, "Regular"), (3, f"{FAMILY} Regular"),
                          (4, f"{FAMILY} Regular"), (5, "Version 1.0"),
                          (6, FAMILY.replace(" ", "") + "-Regular")):
        names.setName(text, name_id, 3, 1, 0x409)


def main(source: str = SOURCE) -> None:
    font = TTFont(source, fontNumber=SC_INDEX)
    options = subset.Options()
    options.layout_features = []  # no shaping needed for horizontal Chinese and Latin
    options.hinting = False
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=wanted_text())
    subsetter.subset(font)
    to_truetype(font)
    rename(font)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    font.save(TARGET)
    print(f"{TARGET}: {TARGET.stat().st_size // 1024} KB, "
          f"{len(font.getGlyphOrder())} glyphs")


if __name__ == "__main__":
    main(*sys.argv[1:])
