"""pandoc's package document (the OPF: the book's metadata, manifest and spine) as a tree of
elements, to be edited as XML and written back as pandoc writes it.

The tree keeps names as written (dc:title, and the xmlns attributes where pandoc declared
them) and attributes in their order, which ElementTree's namespace-resolving parser and
serializer do not: so it is read with expat without namespace processing, and written here,
the way pandoc writes XML (its escapes, " />" for an empty element). Unchanged parts then come
out byte for byte as pandoc wrote them; whitespace is part of the tree, and an element put
into a list is indented as that list's elements are.
"""

from __future__ import annotations

from typing import Sequence
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

# Where pandoc puts the book's files (its --epub-subdirectory is EPUB).
PACKAGE_DOCUMENT = "EPUB/content.opf"
NAVIGATION = "EPUB/nav.xhtml"
NCX = "EPUB/toc.ncx"
PAGES_FOLDER = "EPUB/text/"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
# What pandoc escapes in text and in attribute values.
ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def read_package(data: bytes) -> Element:
    builder = TreeBuilder()
    parser = expat.ParserCreate()  # without a namespace separator: names stay as written
    parser.ordered_attributes = True
    parser.buffer_text = True
    parser.StartElementHandler = lambda name, attributes: builder.start(
        name, dict(zip(attributes[::2], attributes[1::2])))
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.Parse(data, True)
    return builder.close()


def package_bytes(package: Element) -> bytes:
    return xml_bytes(package)


def xml_bytes(root: Element, doctype: str = "") -> bytes:
    """A document read by read_package (the package, the navigation, the NCX), as pandoc writes it."""
    return (XML_DECLARATION + doctype + _written(root) + "\n").encode("utf-8")


def _written(element: Element) -> str:
    attributes = "".join(f' {name}="{value.translate(ESCAPES)}"' for name, value in element.attrib.items())
    if not element.text and not len(element):
        return f"<{element.tag}{attributes} />"
    inside = "".join(_written(child) + (child.tail or "").translate(ESCAPES) for child in element)
    return f"<{element.tag}{attributes}>{(element.text or '').translate(ESCAPES)}{inside}</{element.tag}>"


def child(parent: Element, tag: str) -> Element:
    """The one child of `parent` named `tag`: pandoc writes one metadata, manifest and spine."""
    found = parent.findall(tag)
    if len(found) != 1:
        raise ValueError(f"pandoc wrote an unexpected {PACKAGE_DOCUMENT}: {len(found)} <{tag}> in <{parent.tag}>")
    return found[0]


def set_children(parent: Element, children: Sequence[Element]) -> None:
    """`parent` holding `children`, each on the line and at the indentation its first child had,
    and its end tag where it was."""
    end = parent[-1].tail if len(parent) else parent.text
    parent[:] = children
    for element in children:
        element.tail = parent.text
    if children:
        children[-1].tail = end
