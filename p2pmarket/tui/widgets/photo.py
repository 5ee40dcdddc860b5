"""A listing photo drawn in the terminal with textual-image: Kitty's graphics protocol or
Sixel where the terminal speaks one, coloured half-cell blocks where it doesn't.

textual-image asks the terminal what it supports when it is first imported, and can't ask
once Textual reads the keyboard: `detect_graphics` runs before the app starts (`p2pmarket
run`). An app built without asking (tests, screenshots) draws half cells, the same in any
terminal, so its snapshots are the same everywhere.
"""

from __future__ import annotations

from pathlib import Path

from textual.widget import Widget


def detect_graphics() -> bool:
    """Whether this terminal draws real pixels (Sixel or Kitty's protocol); asks it once
    (importing the widgets also measures the terminal's cells, while it still may)."""
    import textual_image.widget  # noqa: F401
    from textual_image import renderable

    return renderable.Image in (renderable.SixelImage, renderable.TGPImage)


def photo(path: Path, *, graphics: bool, classes: str | None = None) -> Widget:
    """A widget drawing the image file at `path` (a stored photo: already safe to decode)."""
    from textual_image.widget import HalfcellImage, Image

    kind = Image if graphics else HalfcellImage
    return kind(path, classes=classes)
