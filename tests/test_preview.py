"""build.py preview without a browser: the cards it shows are the ones Anki renders from the
deck, its template syntax follows Anki's rules, and its server gives out nothing else.
(tests/test_preview_browser.py drives the page in a real Chromium.)
"""

from __future__ import annotations

import http.client
import re
from pathlib import Path

import anki.lang
import pytest
from anki.collection import Collection, ImportAnkiPackageRequest  # first: anki's modules import in a cycle
from conftest import run_build

from qbank.card_syntax import CardTemplateError, render_card
from qbank.lock import Lock
from qbank.preview import item_cards
from qbank.reader import load_bank
from qbank.render import render_bank
from qbank.writers.anki import note_type

# -- the same cards as Anki ----------------------------------------------------------------------


def test_every_card_is_the_one_anki_renders_from_the_deck(seed_copy: Path, tmp_path: Path) -> None:
    """Anki's engine imports the deck and renders each card; the preview's must be identical."""
    result = run_build(seed_copy, "--out", tmp_path / "dist", "--format", "apkg", "--cloze")
    assert result.returncode == 0, result.stderr
    anki.lang.set_lang("en")
    (tmp_path / "profile").mkdir()
    col = Collection(str(tmp_path / "profile" / "collection.anki2"))
    try:
        options = col._backend.get_import_anki_package_presets()
        package = tmp_path / "dist" / "ai-startup-interview.apkg"
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(package), options=options))
        rendered_by_anki = {}
        for note_id in col.find_notes(""):
            note = col.get_note(note_id)
            for card in note.cards():
                rendered_by_anki[(note["ItemId"], card.ord + 1)] = (card.question(), card.answer())
    finally:
        col.close()

    doc = render_bank(load_bank(seed_copy), Lock.open(seed_copy))
    style = f"<style>{note_type(doc).css}</style>"
    previewed = {
        (entry["item"].id, card["ordinal"]): (style + card["front"], style + card["back"])
        for entry in item_cards(doc, key_points=True) for card in entry["cards"]
    }
    assert len(previewed) == 60  # the question card and the key-points card of each of the 30 items
    assert previewed == rendered_by_anki


def test_without_the_key_points_card_each_item_has_one_card(seed_copy: Path) -> None:
    doc = render_bank(load_bank(seed_copy), Lock.open(seed_copy))
    assert [[card["name"] for card in entry["cards"]] for entry in item_cards(doc, key_points=False)] == [["Question"]] * 30


# -- Anki's template syntax ----------------------------------------------------------------------

FIELDS = {"Title": "<b>T</b>", "Empty": " <br> <div></div> ", "Blank": ""}


def test_fields_are_filled_in_as_html() -> None:
    assert render_card("<h1>{{Title}}</h1>{{ Blank }}", FIELDS).html == "<h1><b>T</b></h1>"


def test_a_section_shows_only_when_its_field_is_not_empty_as_anki_counts_it() -> None:
    template = "{{#Title}}a{{/Title}}{{#Empty}}b{{/Empty}}{{^Empty}}c{{/Empty}}{{^Title}}d{{/Title}}"
    assert render_card(template, FIELDS).html == "ac"


def test_sections_nest_and_front_side_is_the_rendered_front() -> None:
    template = "{{FrontSide}}|{{#Title}}{{#Empty}}x{{/Empty}}{{Title}}{{/Title}}"
    assert render_card(template, FIELDS, front_side="FRONT").html == "FRONT|<b>T</b>"


def test_a_card_exists_only_when_its_front_shows_a_non_empty_field() -> None:
    assert render_card("<p>{{Title}}</p>", FIELDS).shows_a_field
    assert not render_card("<p>{{Empty}}{{Blank}}</p>", FIELDS).shows_a_field
    assert not render_card("{{#Blank}}{{Title}}{{/Blank}}", FIELDS).shows_a_field
    assert not render_card("{{FrontSide}}", FIELDS, front_side="x").shows_a_field


@pytest.mark.parametrize("template, message", [
    ("{{Missing}}", "names no field"),
    ("{{#Missing}}{{/Missing}}", "names no field"),
    ("{{#Title}}x", "never closed"),
    ("{{#Title}}x{{/Empty}}", "closes no open"),
    ("{{text:Title}}", "does not know the filter"),
    ("{{cloze:Title}}", "does not know the filter"),
])
def test_what_the_preview_cannot_render_as_anki_would_is_refused(template: str, message: str) -> None:
    with pytest.raises(CardTemplateError, match=message):
        render_card(template, FIELDS)


# -- what the server gives out ---------------------------------------------------------------------


def _get(server, path: str, host: str | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", host or f"127.0.0.1:{server.port}")
    connection.endheaders()
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def _listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port`, as the kernel lists them."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                addresses.add(address)
    return addresses


def test_the_server_listens_on_loopback_only(preview_server) -> None:
    assert preview_server.url == f"http://127.0.0.1:{preview_server.port}/"
    assert _listening_addresses(preview_server.port) == {"0100007F"}  # 127.0.0.1, little-endian hex


def test_pages_carry_a_policy_that_lets_only_the_servers_own_scripts_run(preview_server) -> None:
    response = _get(preview_server, "/bank/ai-startup-interview/")
    assert response.status == 200
    policy = {part.split()[0]: part.split()[1:] for part in response.getheader("Content-Security-Policy").split("; ")}
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_requests_addressed_to_another_host_are_refused(preview_server) -> None:
    """A page elsewhere could point its own host name at 127.0.0.1 (DNS rebinding)."""
    assert _get(preview_server, "/bank/ai-startup-interview/", host="attacker.example:80").status == 421
    assert _get(preview_server, "/bank/ai-startup-interview/", host=f"localhost:{preview_server.port}").status == 200


@pytest.mark.parametrize("path", [
    "/static/../../qbank/preview.py",
    "/static/%2e%2e/%2e%2e/qbank/preview.py",
    "/static/page.html",  # a template, not a file of the page
    "/mathjax/../../../etc/passwd",
    "/mathjax/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/bank/markup/images/pixel.png",  # an image is served only under its vetted name
    "/bank/markup/markup.yaml",
    "/bank/markup/output/../markup.yaml",
    "/bank/nobank/",
    "/etc/passwd",
])
def test_nothing_but_the_preview_and_the_banks_vetted_images_is_served(preview_server, path: str) -> None:
    assert _get(preview_server, path).status == 404


def test_a_banks_vetted_image_is_served_under_its_media_name(preview_server) -> None:
    page = _get(preview_server, "/bank/markup/").body.decode("utf-8")
    name = re.search(r'<img src="([^"]+)"', page).group(1)
    assert "/" not in name and name.endswith(".png")
    response = _get(preview_server, f"/bank/markup/{name}")
    assert response.status == 200 and response.getheader("Content-Type") == "image/png"
    assert response.body == (preview_server.folder / "hostile" / "images" / "pixel.png").read_bytes()
