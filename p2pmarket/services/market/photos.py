"""Listing photos: decoded defensively, re-encoded from their pixels alone, stored by hash.

A file a person names may be anything: not an image, a huge file, or a small one that
unpacks into billions of pixels (a decompression bomb). The file size is capped before a
byte is decoded, the pixel count before the pixels are (Pillow reads the header first).
What is kept is new JPEG bytes made from the pixels only, resized: no EXIF (a phone's GPS
would say where the seller lives), no comments, no colour profile. Each file is named by
the sha256 of its bytes in the market home (same photo twice, one file); the listing's
photo row holds that hash, and `verify` finds a file missing or altered.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlmodel import Session, col, func, select

from p2pmarket import files
from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import ListingPhoto, User
from p2pmarket.services.market.shops import own_listing

PHOTOS_MAX = 6
FILE_MAX = 10 * files.MIB
# 40 megapixels: any phone's photo, far below what would exhaust memory when decoded.
PIXELS_MAX = 40_000_000
LONGEST_SIDE = 1024
THUMB_SIDE = 160
QUALITY = 85
WHAT = "photo (JPEG, PNG, WebP or GIF)"
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# What a search row shows for "has photos": plain ASCII, one cell wide in every terminal
# (a symbol of ambiguous East Asian width is two cells in some and would shift the row).
MARK = "*"


@dataclass(frozen=True)
class PhotoView:
    sha256: str
    width: int
    height: int
    thumb_sha256: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Prepared:
    """A photo made safe, not yet stored: its JPEG bytes and its thumbnail's."""

    data: bytes
    thumb: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def thumb_sha256(self) -> str:
        return hashlib.sha256(self.thumb).hexdigest()


def _not_image(name: str) -> Refused:
    return Refused("photo_not_image", f"{name} is not an image: give a {WHAT}.")


def _bomb(name: str, pixels: int | None = None) -> Refused:
    size = f" ({pixels:,} pixels)" if pixels else ""
    return Refused(
        "photo_too_many_pixels",
        f"{name} unpacks to too many pixels{size}; a photo has at most {PIXELS_MAX:,}.",
    )


def prepare(path: Path) -> Prepared:
    """The file at `path` as a safe photo, or a one-line refusal."""
    return prepare_bytes(files.read_bytes(Path(path), cap=FILE_MAX, what=WHAT), str(path))


def prepare_bytes(raw: bytes, name: str) -> Prepared:
    """Image bytes (from the file `name`) as a safe photo, or a one-line refusal."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    # Pillow warns past its own limit and raises past twice it; both are refusals here.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw), formats=FORMATS)
            width, height = image.size
            if width * height > PIXELS_MAX:
                raise _bomb(name, width * height)
            image.draft("RGB", (LONGEST_SIDE, LONGEST_SIDE))  # JPEG: decode at a smaller scale
            image = ImageOps.exif_transpose(image)  # upright as taken, before EXIF goes
            image.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
            pixels = _flatten(image)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise _bomb(name) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise _not_image(name) from None
    thumb = pixels.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return Prepared(_jpeg(pixels), _jpeg(thumb), pixels.width, pixels.height)


def prepare_all(paths: list[Path]) -> list[Prepared]:
    """Several files as safe photos (a listing has at most PHOTOS_MAX: more is refused
    before any is read)."""
    if len(paths) > PHOTOS_MAX:
        raise Invalid(
            "photos_too_many", f"A listing has at most {PHOTOS_MAX} photos; {len(paths)} given."
        )
    return [prepare(Path(p)) for p in paths]


def _flatten(image):
    """RGB pixels in a new image that carries nothing else (no info, no profile)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, "white")
        white.paste(rgba, mask=rgba.getchannel("A"))
        image = white
    rgb = image.convert("RGB")
    return Image.frombytes("RGB", rgb.size, rgb.tobytes())


def _jpeg(image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()


def path_of(folder: Path, sha256: str) -> Path:
    return folder / f"{sha256}.jpg"


def store_files(folder: Path, prepared: Prepared) -> None:
    """Write the photo and its thumbnail under their hashes (once: a file already there
    with that name and those bytes is kept). Written aside, then renamed into place."""
    files.private_dir(folder)
    for data in (prepared.data, prepared.thumb):
        sha = hashlib.sha256(data).hexdigest()
        dest = path_of(folder, sha)
        if file_sha256(dest) == sha:
            continue
        partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
        files.write_private(partial, data)
        os.replace(partial, dest)


def delete_files(folder: Path, photo: PhotoView) -> None:
    """Delete a photo's files (once no listing shows it)."""
    for sha in (photo.sha256, photo.thumb_sha256):
        path_of(folder, sha).unlink(missing_ok=True)


def file_sha256(path: Path) -> str | None:
    """The sha256 of a stored file's bytes; None when it is missing or unreadable."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _rows(session: Session, listing_id: int) -> list[ListingPhoto]:
    return list(
        session.exec(
            select(ListingPhoto)
            .where(ListingPhoto.listing_id == listing_id)
            .order_by(col(ListingPhoto.id))
        )
    )


def _view(row: ListingPhoto) -> PhotoView:
    return PhotoView(row.sha256, row.width, row.height, row.thumb_sha256)


def attach(
    session: Session, clock: Clock, seller: User, listing_id: int, prepared: list[Prepared]
) -> list[PhotoView]:
    """Add photos (stored already) to a listing of mine: at most PHOTOS_MAX, each once."""
    listing = own_listing(session, seller, listing_id)
    rows = _rows(session, listing.id)
    have = {r.sha256 for r in rows}
    new = {p.sha256: p for p in prepared if p.sha256 not in have}
    if len(rows) + len(new) > PHOTOS_MAX:
        raise Refused(
            "photos_too_many",
            f"Listing #{listing_id} has {len(rows)} photo(s); {len(new)} more would pass the "
            f"limit of {PHOTOS_MAX}. Remove some first (p2pmarket listing photo remove).",
        )
    now = clock.now()
    for sha, p in new.items():
        row = ListingPhoto(
            listing_id=listing.id,
            sha256=sha,
            width=p.width,
            height=p.height,
            thumb_sha256=p.thumb_sha256,
            added_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return [_view(r) for r in rows]


def detach(session: Session, seller: User, listing_id: int, which: str) -> tuple[PhotoView, bool]:
    """Remove one photo of a listing of mine: `which` is its number as listed (1, 2, …)
    or the start of its sha256. Also whether no listing shows that file any more."""
    listing = own_listing(session, seller, listing_id)
    rows = _rows(session, listing.id)
    which = which.strip().lower()
    if which.isdigit() and len(which) <= 2:
        index = int(which) - 1
        row = rows[index] if 0 <= index < len(rows) else None
    else:
        found = [r for r in rows if len(which) >= 6 and r.sha256.startswith(which)]
        row = found[0] if len(found) == 1 else None
    if row is None:
        raise Invalid(
            "unknown_photo",
            f"Listing #{listing_id} has no photo {which[:64]!r}: give its number "
            f"(1–{len(rows)}) or the start of its sha256 (6 characters or more)."
            if rows
            else f"Listing #{listing_id} has no photos.",
        )
    session.delete(row)
    session.flush()
    others = session.exec(
        select(func.count()).select_from(ListingPhoto).where(ListingPhoto.sha256 == row.sha256)
    ).one()
    return _view(row), others == 0


def photos_of(session: Session, listing_id: int) -> tuple[PhotoView, ...]:
    return tuple(_view(r) for r in _rows(session, listing_id))


def all_photos(session: Session) -> list[ListingPhoto]:
    return list(session.exec(select(ListingPhoto).order_by(col(ListingPhoto.id))))


def problems(rows: list[ListingPhoto], folder: Path) -> list[tuple[int, str]]:
    """(photo row id, what is wrong) for every stored photo or thumbnail file of `rows`
    missing, or whose bytes no longer hash to the name its row holds."""
    found = []
    checked: dict[str, str | None] = {}
    for row in rows:
        for what, sha in (("photo", row.sha256), ("thumbnail", row.thumb_sha256)):
            if sha not in checked:
                checked[sha] = file_sha256(path_of(folder, sha))
            actual = checked[sha]
            if actual is None:
                found.append((row.id, f"the {what} file {sha[:12]}… is missing"))
            elif actual != sha:
                found.append((row.id, f"the {what} file {sha[:12]}… was altered"))
    return found


def referenced(session: Session) -> set[str]:
    """Every file name (hash) a photo row points to: what backups and restores carry."""
    return {sha for row in all_photos(session) for sha in (row.sha256, row.thumb_sha256)}
