"""Warnings a bank maintainer wants before publishing: repeats, untagged items, overlong
answers, images without alt text, HTML shown as its characters, dollars that pandoc and MathJax
pair differently.

Lint reads the bank's Markdown (no rendering needed), so `build.py --check` stays fast.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import combinations

from . import schema
from .document import text_width_em
from .model import Bank, Item, Problem

SIMILARITY_THRESHOLD = 0.6  # Jaccard similarity of the items' features (_features)
MAX_ANSWER_CHARS = 600  # more than fits on a phone screen without scrolling far
# What a flashcard's back holds at its smallest size (qbank/writers/card_sizes.py): 24 lines
# (75 mm of text at 6.5 pt, line height 1.35) of 36 em. For the estimate of how many cards an
# answer spans; the flashcards measure the real one.
FLASHCARD_LINES, FLASHCARD_LINE_EM = 24, 36
CODE_LINE = 0.86 * 1.3 / 1.35  # a code line's height, in the text's lines
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")

_MARKUP = re.compile(r"[*_`#>\[\]()!~|-]")
# Code blocks and spans, where Markdown's characters are only shown, not read.
_CODE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1|(`+).+?\2", re.MULTILINE | re.DOTALL)
# An image with empty alt text: ![](src), ![ ](<src>), ![][reference].
_IMAGE_WITHOUT_ALT = re.compile(r"!\[\s*\](?:\(\s*(?:<([^>]*)>|([^\s)]*))|\[([^\]]*)\])")
# Scripts written without spaces between words: Han (with extensions A-H) and kana.
_UNSPACED = re.compile("[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_WORD = re.compile(r"\w+")
# A single dollar sign, not $$ and not \$: where inline math may open or close.
_DOLLAR = re.compile(r"(?<![\\$])\$(?!\$)")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# An HTML tag: its name, then attributes, then > (an autolink such as <https://…> is no tag).
_HTML_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)(?:\s[^<>]*)?/?>")
# What to write instead of each tag a bank shows as its characters (raw HTML is off: render.py).
MARKDOWN_FOR_TAG = {
    **dict.fromkeys(("b", "strong"), "**bold**"), **dict.fromkeys(("i", "em"), "*italic*"),
    "sub": "H~2~O", "sup": "x^2^", "br": "a backslash at the end of the line",
    "img": "![what it shows](images/x.png) with the image saved in the bank's folder",
    "a": "[text](https://…)", "code": "`code`", "pre": "a fenced code block", "del": "~~struck~~", "s": "~~struck~~",
    **dict.fromkeys(("p", "div"), "a blank line between paragraphs"), **dict.fromkeys(("ul", "ol", "li"), "- item"),
    **dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), "## heading"), "blockquote": "> quoted",
    **dict.fromkeys(("table", "thead", "tbody", "tr", "td", "th"), "a pipe table"),
}


@dataclass(frozen=True)
class DuplicateCluster:
    items: tuple[Item, ...]
    similarity: float  # the highest pairwise similarity within the cluster


def _normalized(text: str) -> str:
    text = unicodedata.normalize("NFKC", _MARKUP.sub(" ", text)).lower()
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith(("P", "Z", "C")))


def _texts(item: Item) -> list[tuple[schema.Path_, str]]:
    """What the item asks and answers (its Markdown fields but the asides), with each path."""
    return [(path, text) for path, declared, text in schema.markdown_fields(schema.ITEM, item) if not declared.aside]


def _features(item: Item) -> set[str]:
    """What an item is compared by, chosen by the script of most of its letters.

    Chinese and Japanese have no spaces between words: their character bigrams stand in for
    words (two rewordings of one question share most of them). Text with spaces is compared
    by its set of words: the character bigrams of English are so common that unrelated
    English items share about 45% of them, while they share about 10% of their words, and a
    reworded copy about 80%, as the seed's repeats share their bigrams.
    """
    text = " ".join(text for _, text in _texts(item))
    squeezed = _normalized(text)
    letters = sum(ch.isalpha() for ch in squeezed)
    if letters and 2 * len(_UNSPACED.findall(squeezed)) >= letters:
        return {squeezed[i : i + 2] for i in range(len(squeezed) - 1)}
    return set(_WORD.findall(unicodedata.normalize("NFKC", _MARKUP.sub(" ", text)).lower()))


def _answer_length(item: Item) -> int:
    return len(_normalized("".join(text for path, text in _texts(item) if path[0] == "answer")))


def flashcards_spanned(item: Item) -> int:
    """About how many flashcards the item's answer and explanation take, counted as the card sets
    them: a point's term and text on one line, each line of a paragraph or list item at least one
    card line, a code line a smaller one (templates/print/content.css: pre at 0.86em, line
    height 1.3) and a code fence none."""
    fields = {path: text for path, _, text in schema.markdown_fields(schema.ITEM, item) if path[0] in ("answer", "explanation")}
    texts = [f"{text}：{fields.get(path[:-1] + ('text',), '')}" if path[-1] == "term" else text
             for path, text in fields.items() if path[-1] != "text" or path[:-1] + ("term",) not in fields]
    lines = 0.0
    for text in texts:
        in_code = False
        for line in text.splitlines():
            if _FENCE.match(line):
                in_code = not in_code
            elif in_code:
                lines += CODE_LINE * max(1, math.ceil(text_width_em(line) / FLASHCARD_LINE_EM))
            elif line.strip():
                lines += max(1, math.ceil(text_width_em(line) / FLASHCARD_LINE_EM))
    return max(1, math.ceil(lines / FLASHCARD_LINES))


def _long_answer(item: Item) -> list[Problem]:
    """One warning for an answer too long to review at a glance: on a phone, or on one flashcard."""
    length, cards = _answer_length(item), flashcards_spanned(item)
    if cards > 1:
        return [Problem(item.location, f"answer spans {cards} flashcards ({length} characters); "
                        "consider splitting it into several items", item.id)]
    if length > MAX_ANSWER_CHARS:
        return [Problem(item.location, f"answer is {length} characters; over {MAX_ANSWER_CHARS} is hard to review on a card",
                        item.id)]
    return []


def duplicate_clusters(items: tuple[Item, ...], threshold: float = SIMILARITY_THRESHOLD) -> list[DuplicateCluster]:
    """Groups of items whose texts are near-duplicates (single-linkage over pairs >= threshold).

    Candidate pairs come from an inverted index of each item's rarest features (prefix
    filtering): two sets with Jaccard similarity >= t must share one of the first
    |x| - ceil(t * |x|) + 1 elements of each, in any fixed global order. Rarest-first keeps the
    index lists short, so a bank of thousands of items is not compared pair by pair, and no
    pair is missed however many copies of an item there are.
    """
    grams = [_features(item) for item in items]
    frequency = Counter(gram for item_grams in grams for gram in item_grams)
    index: dict[str, list[int]] = defaultdict(list)
    for position, item_grams in enumerate(grams):
        rarest_first = sorted(item_grams, key=lambda gram: (frequency[gram], gram))
        prefix = len(rarest_first) - math.ceil(threshold * len(rarest_first)) + 1
        for gram in rarest_first[:prefix]:
            index[gram].append(position)
    candidates: set[tuple[int, int]] = set()
    for positions in index.values():
        candidates.update(combinations(positions, 2))
    parent = list(range(len(items)))

    def root(position: int) -> int:
        while parent[position] != position:
            parent[position] = parent[parent[position]]
            position = parent[position]
        return position

    best: dict[int, float] = defaultdict(float)
    pairs = []
    for a, b in candidates:
        union = len(grams[a] | grams[b])
        similarity = len(grams[a] & grams[b]) / union if union else 0.0
        if similarity >= threshold:
            pairs.append((a, b, similarity))
    for a, b, similarity in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[rb] = ra
    for a, _, similarity in pairs:
        best[root(a)] = max(best[root(a)], similarity)
    members: dict[int, list[int]] = defaultdict(list)
    for position in range(len(items)):
        members[root(position)].append(position)
    clusters = [
        DuplicateCluster(tuple(items[p] for p in sorted(group)), round(best[key], 2))
        for key, group in members.items()
        if len(group) > 1
    ]
    return sorted(clusters, key=lambda cluster: cluster.items[0].number)


def images_without_alt_text(markdown: str) -> list[str]:
    """The source (or reference label) of every image in `markdown` that has no alt text."""
    return [next(filter(None, match.groups()), "") for match in _IMAGE_WITHOUT_ALT.finditer(_CODE.sub("", markdown))]


def _missing_alt_text(bank: Bank) -> list[Problem]:
    warnings = []
    for path, _, markdown in schema.markdown_fields(schema.BANK, bank):
        for src in images_without_alt_text(markdown):
            warnings.append(Problem(bank.place(path), f"image '{src}' has no alt text: write what it shows between "
                                    "the brackets, for whoever cannot see it (a screen reader reads it out, and the "
                                    "EPUB declares its images described only if all are)", bank.owner(path)))
    return warnings


def html_tags(markdown: str) -> list[str]:
    """The names of the HTML tags in `markdown` outside code, lowercased, each once, in order."""
    return list(dict.fromkeys(match[1].lower() for match in _HTML_TAG.finditer(_CODE.sub("", markdown))))


def _html_shown_as_text(bank: Bank) -> list[Problem]:
    warnings = []
    for path, _, markdown in schema.markdown_fields(schema.BANK, bank):
        if tags := html_tags(markdown):
            advice = ", ".join(f"<{tag}> (write {MARKDOWN_FOR_TAG[tag]})" if tag in MARKDOWN_FOR_TAG
                               else f"<{tag}> (no Markdown for it: remove it)" for tag in tags)
            warnings.append(Problem(bank.place(path), f"HTML is shown as its characters, never rendered: {advice}",
                                    bank.owner(path)))
    return warnings


def _mathjax_formulas(paragraph: str, dollars: list[int]) -> list[str]:
    """The formulas MathJax's $...$ finds (as in the editors many banks are written in): each
    dollar closes the one before, spaces or not."""
    return [paragraph[start + 1:end] for start, end in zip(dollars[::2], dollars[1::2])]


def _pandoc_formulas(paragraph: str, dollars: list[int]) -> list[str]:
    """The formulas pandoc's Markdown reads: a dollar opens only before a non-space and closes
    only after one, and not before a digit ($20 and $30 stays text)."""
    formulas, after = [], -1
    for start in dollars:
        if start <= after or start + 1 >= len(paragraph) or paragraph[start + 1].isspace():
            continue
        end = next((end for end in dollars if end > start + 1 and not paragraph[end - 1].isspace()
                    and not paragraph[end + 1:end + 2].isdigit()), None)
        if end is not None:
            formulas.append(paragraph[start + 1:end])
            after = end
    return formulas


def dollar_readings(markdown: str) -> list[tuple[list[str], list[str]]]:
    """For each paragraph where a space inside $...$ (`$ X$`, `$X $`) makes MathJax and pandoc
    read different formulas: MathJax's formulas and pandoc's."""
    found = []
    for paragraph in _PARAGRAPH_BREAK.split(_CODE.sub("", markdown)):
        dollars = [match.start() for match in _DOLLAR.finditer(paragraph)]
        mathjax, pandoc = _mathjax_formulas(paragraph, dollars), _pandoc_formulas(paragraph, dollars)
        # A price ($20 and $30) is no formula in either reading that matters: it starts with a digit.
        spaced = [formula for formula in mathjax if formula != formula.strip() and not formula[:1].isdigit()]
        if spaced and mathjax != pandoc:
            found.append((mathjax, pandoc))
    return found


def _dollar_spacing(bank: Bank) -> list[Problem]:
    warnings = []
    for path, _, markdown in schema.markdown_fields(schema.BANK, bank):
        for mathjax, pandoc in dollar_readings(markdown):
            def shown(formulas: list[str]) -> str:
                return ", ".join(f"${formula}$" for formula in formulas) or "no formula"
            warnings.append(Problem(bank.place(path), "a space inside $...$ makes the formulas read differently: "
                                    f"MathJax reads {shown(mathjax)}; this build (pandoc) reads {shown(pandoc)}. "
                                    "Write the dollars against the formula: $X$, not $ X$ or $X $", bank.owner(path)))
    return warnings


def lint_bank(bank: Bank) -> list[Problem]:
    warnings = []
    for cluster in duplicate_clusters(bank.items):
        first = cluster.items[0]
        names = ", ".join(f"{item.id} (#{item.number}, line {item.location.line})" for item in cluster.items)
        warnings.append(
            Problem(first.location, f"near-duplicate items (similarity up to {cluster.similarity:.0%}): {names}", first.id)
        )
    for item in bank.items:
        if not item.tags:
            warnings.append(Problem(item.location, "item has no tags", item.id))
        warnings += _long_answer(item)
    return warnings + _missing_alt_text(bank) + _html_shown_as_text(bank) + _dollar_spacing(bank)
