"""Photos for the demo market, drawn here with Pillow (no downloads): a few shapes in a
colour taken from the listing's title, the same picture every time.

A demo listing asks for one with `"photo": "bike"` (a name of DRAWINGS) in demo.json. The
picture goes through the same path as a person's file (photos.prepare_bytes): re-encoded,
stored by its hash, attached once (seeding again adds nothing).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, select

from p2pmarket.clock import Clock
from p2pmarket.models import Listing, User
from p2pmarket.services.market import photos

SIZE = (640, 480)
INK = (40, 40, 48)


def _colour(title: str, shift: int = 0) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{title}:{shift}".encode()).digest()
    return tuple(90 + b % 140 for b in digest[:3])


def _bike(draw, main) -> None:
    for x in (190, 450):
        draw.ellipse((x - 90, 250, x + 90, 430), outline=INK, width=12)
    draw.line((190, 340, 300, 340, 450, 340, 370, 220, 300, 340), fill=main, width=14)
    draw.line((370, 220, 240, 220, 190, 340), fill=main, width=14)
    draw.line((230, 200, 270, 200), fill=INK, width=12)
    draw.line((370, 220, 390, 180, 430, 180), fill=INK, width=10)


def _books(draw, main) -> None:
    for i, (width, shade) in enumerate(((380, 0), (340, 40), (400, 80), (300, 120))):
        left = 320 - width // 2
        colour = tuple((c + shade) % 256 for c in main)
        draw.rectangle((left, 380 - i * 70, left + width, 440 - i * 70), fill=colour, outline=INK)


def _pot(draw, main) -> None:
    draw.rounded_rectangle((170, 180, 470, 420), radius=60, fill=main, outline=INK, width=6)
    draw.ellipse((190, 150, 450, 220), fill=(235, 235, 240), outline=INK, width=6)
    draw.rectangle((300, 120, 340, 160), fill=INK)


def _keyboard(draw, main) -> None:
    draw.rectangle((60, 190, 580, 330), fill=main, outline=INK, width=6)
    for x in range(80, 560, 32):
        draw.rectangle((x, 250, x + 28, 320), fill=(250, 250, 250), outline=INK)
    for x in range(100, 540, 64):
        draw.rectangle((x, 250, x + 16, 290), fill=INK)


def _plant(draw, main: tuple[int, int, int]) -> None:
    draw.polygon(((230, 300), (410, 300), (380, 440), (260, 440)), fill=(190, 110, 70))
    green = (60, 120 + main[1] % 80, 70)  # a plant is green whatever its title says
    for box in ((200, 100, 320, 300), (320, 90, 440, 300), (260, 40, 380, 280)):
        draw.ellipse(box, fill=green, outline=INK, width=4)


def _chair(draw, main) -> None:
    draw.rounded_rectangle((220, 80, 420, 260), radius=30, fill=main, outline=INK, width=6)
    draw.rectangle((200, 270, 440, 310), fill=main, outline=INK, width=6)
    draw.line((320, 310, 320, 400), fill=INK, width=14)
    draw.line((220, 430, 420, 430), fill=INK, width=12)


def _camera(draw, main) -> None:
    draw.rounded_rectangle((130, 150, 510, 380), radius=24, fill=main, outline=INK, width=6)
    draw.rectangle((170, 120, 260, 150), fill=INK)
    draw.ellipse((250, 190, 410, 350), fill=(60, 60, 70), outline=INK, width=6)
    draw.ellipse((295, 235, 365, 305), fill=(120, 150, 200))


DRAWINGS: dict[str, Callable] = {
    "bike": _bike,
    "books": _books,
    "pot": _pot,
    "keyboard": _keyboard,
    "plant": _plant,
    "chair": _chair,
    "camera": _camera,
}


def draw(title: str, drawing: str) -> bytes:
    """The demo's picture of a listing, as PNG bytes."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", SIZE, _colour(title, 1))
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 400, SIZE[0], SIZE[1]), fill=tuple(c - 40 for c in _colour(title, 1)))
    DRAWINGS[drawing](pen, _colour(title))
    pen.text((24, 16), drawing, fill=INK, font=ImageFont.load_default(size=40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def seed(session: Session, clock: Clock, folder: Path, listings: list[dict]) -> int:
    """Draw, store and attach the photo each demo listing asks for; how many were new."""
    added = 0
    for entry in listings:
        drawing = entry.get("photo")
        if drawing not in DRAWINGS:
            continue
        found = session.exec(
            select(Listing, User)
            .join(User, User.id == Listing.seller_id)
            .where(User.handle == entry["seller"], Listing.title == entry["title"])
        ).first()
        if found is None:
            continue
        listing, seller = found
        prepared = photos.prepare_bytes(draw(entry["title"], drawing), f"demo {drawing}")
        photos.store_files(folder, prepared)
        before = len(photos.photos_of(session, listing.id))
        added += len(photos.attach(session, clock, seller, listing.id, [prepared])) - before
    return added
