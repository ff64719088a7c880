"""Build the certificate fonts: OpenType subsets of Noto Sans CJK SC (SIL OFL 1.1).

The committed files in ``webapp/training/fonts/`` were made by this script, so a fresh
machine needs no system fonts to print a certificate.  A certificate prints people's
names, units' names, course titles and venues, and a name may use any hanzi:

- ``CertSans-SC.otf``, loaded for every certificate: ASCII and Latin-1, common
  punctuation and full-width forms, all of GB 2312 (its 6,763 hanzi, pinyin letters,
  Greek, Cyrillic, kana, symbols) and every other hanzi the project's own text uses
  (so a new one there changes this file and the names of the others);
- ``CertSans-SC-ext-*.otf``, a few thousand characters each: every other character the
  source has — the rest of the CJK Unified Ideographs block, Extension A and what it
  has of Extensions B on (玥, 堃, 䶮, 𠮷, 𫖯…), the compatibility ideographs, radicals,
  symbols (①, ℃, ㎡), Latin letters of other languages (Ł, ễ), Hangul.  A file's name
  gives the first and last code point it holds.  A certificate loads only the files that hold a
  character it needs: a parsed font costs memory and time by its number of glyphs (the
  whole block in one file: ~45 MB more for the worker and 0.3–0.4 s; the system's
  whole Noto Sans CJK: ~90 MB and 1.5 s).

The outlines stay CFF (fpdf2 embeds them as /FontFile3, CIDFontType0C): about a third
smaller than TrueType ones.  The family is
renamed, as the OFL asks of a modified version.  At render time fpdf2 subsets again to
the glyphs a certificate uses.

Run: python scripts/build_certificate_font.py [path/to/NotoSansCJK-Regular.ttc]
(Debian: ``apt-get install fonts-noto-cjk``; a few minutes.)
"""
from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SC_INDEX = 2  # Noto Sans CJK SC in the collection
FONTS = Path(__file__).resolve().parents[1] / "webapp" / "training" / "fonts"
TARGET = FONTS / "CertSans-SC.otf"
FAMILY = "UnionFlow Cert Sans"
EXT_CHUNK = 3000  # characters per extra file

# (first, last) code points kept, all of each range the source font has.
COMMON_RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 (names and venues in English lines: é, ·, ×)
    (0x2010, 0x2027),  # dashes, quotes, ellipsis
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。〈〉「」【】〇
    (0xFF00, 0xFFEF),  # full-width forms: ，（）：０-９
)
ROOT = Path(__file__).resolve().parents[1]
PROJECT_TEXT = ("workflows/definitions/*.yaml", "webapp/**/*.py", "webapp/translations/*.pot")


def gb2312() -> set[int]:
    """All of GB 2312: both levels of hanzi and its symbols, pinyin letters (ǎ, ǚ),
    Greek, Cyrillic and kana."""
    found = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                found.add(ord(bytes([high, low]).decode("gb2312")))
            except UnicodeDecodeError:
                pass  # the unused cells
    return found


def project_hanzi() -> set[int]:
    found = set()
    for pattern in PROJECT_TEXT:
        for path in ROOT.glob(pattern):
            found |= {ord(ch) for ch in path.read_text(encoding="utf-8")
                      if "\u4e00" <= ch <= "\u9fff"}
    return found


def _span(ranges) -> set[int]:
    return {code for first, last in ranges for code in range(first, last + 1)}


def common() -> set[int]:
    return _span(COMMON_RANGES) | gb2312() | project_hanzi()


def extra_chunks(available: set[int]) -> list[list[int]]:
    """Every other character the source has (hanzi of every extension, symbols, Latin
    letters of other languages, Hangul…), in code point order, a few thousand a file."""
    rest = sorted({code for code in available if code > 0x20} - common())
    return [rest[i:i + EXT_CHUNK] for i in range(0, len(rest), EXT_CHUNK)]


def rename(font: TTFont, family: str = FAMILY) -> None:
    names = font["name"]
    keep = {0, 7, 8, 9, 11, 12, 13, 14}  # copyright, trademark, vendor, designer, licence
    names.names = [n for n in names.names if n.nameID in keep]
    for name_id, text in ((1, family), (2, "Regular"), (3, f"{family} Regular"),
                          (4, f"{family} Regular"), (5, "Version 2.0"),
                          (6, family.replace(" ", "") + "-Regular")):
        names.setName(text, name_id, 3, 1, 0x409)


def _subset(source: str, unicodes, target: Path, family: str = FAMILY) -> None:
    font = TTFont(source, fontNumber=SC_INDEX)
    options = subset.Options()
    options.layout_features = []  # no shaping needed for horizontal Chinese and Latin
    options.hinting = False
    options.name_IDs = ["*"]
    options.notdef_outline = True  # a missing character shows as a box, not as nothing
    subsetter = subset.Subsetter(options)
    # The space too: fpdf2 takes a font's first character for its .notdef glyph id, and
    # one above U+FFFF (a file of Extension B alone) makes it log a bogus warning.
    subsetter.populate(unicodes=sorted({0x20, *unicodes}))
    subsetter.subset(font)
    rename(font, family)  # a name of its own: a PDF's fonts should not share one
    font.recalcTimestamp = False  # the same source makes the same bytes
    font.save(target)
    print(f"{target.name}: {target.stat().st_size // 1024} KB, "
          f"{len(font.getBestCmap())} characters")


def main(source: str = SOURCE) -> None:
    FONTS.mkdir(parents=True, exist_ok=True)
    for old in FONTS.glob("CertSans-SC*.otf"):
        old.unlink()
    _subset(source, common(), TARGET)
    available = set(TTFont(source, fontNumber=SC_INDEX).getBestCmap())
    for chunk in extra_chunks(available):
        _subset(source, chunk, FONTS / f"CertSans-SC-ext-{chunk[0]:04X}-{chunk[-1]:04X}.otf",
                f"{FAMILY} Ext {chunk[0]:04X}")


if __name__ == "__main__":
    main(*sys.argv[1:])
