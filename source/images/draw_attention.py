"""Draws attention.png, the scaled dot-product attention diagram of ml-coding-interview.yaml.

The bank's image is made by the project rather than taken from elsewhere, and this script is
its source: it lives beside the PNG it writes so that whoever edits the picture finds it.
It uses only Pillow (which WeasyPrint already installs) and Pillow's bundled font, so the
same Pillow version redraws the same bytes. Run it from anywhere, then commit both files:

    .venv/bin/python source/images/draw_attention.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUTPUT = Path(__file__).with_name("attention.png")
WIDTH, HEIGHT = 760, 250
BOX_WIDTH, BOX_HEIGHT = 128, 46
INK, FILL, ACCENT = (34, 34, 34), (236, 240, 246), (170, 34, 34)  # readable when printed in grey

# name -> (left, top, label); the data flow reads left to right.
BOXES = {
    "q": (24, 30, "Q"),
    "k": (24, 102, "K"),
    "v": (24, 174, "V"),
    "scores": (196, 66, "Q K^T"),
    "scale": (356, 66, "/ sqrt(d_k)"),
    "softmax": (516, 66, "softmax"),
    "mix": (612, 174, "weights x V"),
}
ARROWS = [("q", "scores"), ("k", "scores"), ("scores", "scale"), ("scale", "softmax"), ("softmax", "mix"), ("v", "mix")]


def _anchor(name: str, side: str) -> tuple[int, int]:
    left, top, _ = BOXES[name]
    return {
        "right": (left + BOX_WIDTH, top + BOX_HEIGHT // 2),
        "left": (left, top + BOX_HEIGHT // 2),
        "top": (left + BOX_WIDTH // 2, top),
    }[side]


def _arrow(draw: ImageDraw.ImageDraw, start: tuple[int, int], end: tuple[int, int]) -> None:
    draw.line([start, end], fill=INK, width=2)
    (x0, y0), (x1, y1) = start, end
    length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    head = [(x1, y1), (x1 - 10 * ux + 5 * uy, y1 - 10 * uy - 5 * ux), (x1 - 10 * ux - 5 * uy, y1 - 10 * uy + 5 * ux)]
    draw.polygon([(round(x), round(y)) for x, y in head], fill=INK)


def draw() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    canvas = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=20)
    for source, target in ARROWS:
        if target == "mix" and source == "softmax":
            _arrow(canvas, _anchor(source, "right"), _anchor(target, "top"))
        else:
            _arrow(canvas, _anchor(source, "right"), _anchor(target, "left"))
    for name, (left, top, label) in BOXES.items():
        outline = ACCENT if name == "softmax" else INK
        canvas.rounded_rectangle([left, top, left + BOX_WIDTH, top + BOX_HEIGHT], radius=8, fill=FILL,
                                 outline=outline, width=2)
        canvas.text((left + BOX_WIDTH / 2, top + BOX_HEIGHT / 2), label, fill=INK, font=font, anchor="mm")
    caption = "Each output row is a weighted average of the rows of V."
    canvas.text((WIDTH / 2, HEIGHT - 14), caption, fill=INK, font=ImageFont.load_default(size=15), anchor="mm")
    return image


if __name__ == "__main__":
    draw().save(OUTPUT, optimize=True)
    print(f"wrote {OUTPUT}")
