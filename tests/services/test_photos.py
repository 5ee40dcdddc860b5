"""Listing photos on a real store and a real home: hostile files refused in one sentence,
metadata gone, one file per photo, and the files covered by verify, backup, restore, export."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from PIL import Image

from p2pmarket.errors import Invalid, Refused
from p2pmarket.market import Market, records, shop
from p2pmarket.models import Kind, Unit
from p2pmarket.services.market import photos
from p2pmarket.services.records import backups
from tests.conftest import make_listing, make_user

GPS = 0x8825


def jpeg_with_gps(path, size=(1600, 1200), colour=(200, 40, 40)):
    """A phone's photo: EXIF with a camera, a GPS position and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[GPS] = {1: "N", 2: (31.0, 13.0, 44.0), 3: "E", 4: (121.0, 26.0, 53.0)}
    Image.new("RGB", size, colour).save(path, "JPEG", exif=exif.tobytes(), comment=b"at home")
    return path


def png_claiming(path, width, height):
    """A tiny PNG whose header claims `width` × `height` pixels (a decompression bomb)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def market(store, clock) -> Market:
    return Market(store, clock)


def bike(store, clock, user, title="Bike"):
    return make_listing(
        store, clock, user, kind=Kind.goods, category="bicycles", unit=Unit.item, title=title
    )


@pytest.fixture
def lin(store, clock):
    return make_user(store, clock, "lin")


@pytest.fixture
def seller(store, clock, market, lin):
    return market.trusted_actor("lin"), bike(store, clock, lin).id


def _one_line(exc) -> str:
    message = exc.value.message
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_gps_jpeg_is_stored_resized_without_any_metadata(seller, market, tmp_path):
    actor, listing_id = seller
    [photo] = actor.add_photos(listing_id, [jpeg_with_gps(tmp_path / "bike.jpg")])

    assert (photo.width, photo.height) == (1024, 768)
    stored = photos.path_of(market.config.photo_dir, photo.sha256)
    with Image.open(stored) as image:
        assert image.format == "JPEG" and image.size == (1024, 768)
        assert not image.getexif() and GPS not in image.getexif()
        assert "exif" not in image.info and "comment" not in image.info
        assert "icc_profile" not in image.info
        assert image.getpixel((10, 10))[0] > 150  # the pixels came through
    raw = stored.read_bytes()
    assert b"Exif" not in raw and b"PhoneMaker" not in raw and b"at home" not in raw
    with Image.open(photos.path_of(market.config.photo_dir, photo.thumb_sha256)) as thumb:
        assert max(thumb.size) == photos.THUMB_SIDE
    assert stored.stat().st_mode & 0o777 == 0o600
    assert market.config.photo_dir.stat().st_mode & 0o777 == 0o700


def test_hostile_files_are_refused_in_one_line_and_nothing_is_stored(seller, market, tmp_path):
    actor, listing_id = seller
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture at all")
    with pytest.raises(Refused) as not_image:
        actor.add_photos(listing_id, [text])
    assert "is not an image" in _one_line(not_image)

    huge = tmp_path / "huge.jpg"
    huge.write_bytes(b"\xff" * (photos.FILE_MAX + 1))
    with pytest.raises(Invalid) as too_big:
        actor.add_photos(listing_id, [huge])
    assert "at most 10 MiB" in _one_line(too_big)

    # Over Pillow's own limit (it would raise) and under it (only our cap sees it).
    for width, height in ((100_000, 100_000), (8_000, 6_000)):
        bomb = png_claiming(tmp_path / f"bomb-{width}.png", width, height)
        assert bomb.stat().st_size < 200
        with pytest.raises(Refused) as refused:
            actor.add_photos(listing_id, [bomb])
        assert "too many pixels" in _one_line(refused)

    assert shop.listing(market, listing_id).photos == ()
    assert not market.config.photo_dir.exists() or not any(market.config.photo_dir.iterdir())


def test_a_bomb_warns_nothing(seller, tmp_path, recwarn):
    actor, listing_id = seller
    with pytest.raises(Refused):
        actor.add_photos(listing_id, [png_claiming(tmp_path / "b.png", 12_000, 12_000)])
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_the_same_photo_twice_is_stored_once(seller, store, clock, market, lin, tmp_path):
    actor, listing_id = seller
    first = jpeg_with_gps(tmp_path / "a.jpg")
    again = tmp_path / "copy.jpg"
    again.write_bytes(first.read_bytes())

    shown = actor.add_photos(listing_id, [first, again])
    assert len(shown) == 1
    assert len(actor.add_photos(listing_id, [first])) == 1
    actor.add_photos(bike(store, clock, lin, "Other bike").id, [first])
    assert len(list(market.config.photo_dir.iterdir())) == 2  # the photo and its thumbnail


def test_at_most_six_photos_and_removal_deletes_an_unused_file(seller, market, tmp_path):
    actor, listing_id = seller
    files = [
        jpeg_with_gps(tmp_path / f"p{n}.jpg", size=(300, 200), colour=(n * 30, 90, 90))
        for n in range(7)
    ]
    assert len(actor.add_photos(listing_id, files[:6])) == 6
    with pytest.raises(Refused) as refused:
        actor.add_photos(listing_id, files[6:])
    assert "limit of 6" in refused.value.message

    first = shop.listing(market, listing_id).photos[0]
    removed = actor.remove_photo(listing_id, "1")
    assert removed == first
    assert not photos.path_of(market.config.photo_dir, first.sha256).exists()
    with pytest.raises(Invalid):
        actor.remove_photo(listing_id, "9")
    assert len(shop.listing(market, listing_id).photos) == 5


def test_someone_elses_listing_takes_no_photos(seller, store, clock, market, tmp_path):
    _actor, listing_id = seller
    make_user(store, clock, "bob")
    with pytest.raises(Refused) as refused:
        market.trusted_actor("bob").add_photos(listing_id, [jpeg_with_gps(tmp_path / "x.jpg")])
    assert refused.value.code == "not_your_listing"


def test_verify_finds_a_photo_file_deleted_or_altered(seller, market, tmp_path):
    actor, listing_id = seller
    [photo] = actor.add_photos(listing_id, [jpeg_with_gps(tmp_path / "bike.jpg")])
    assert records.verify(market, full=True).ok

    stored = photos.path_of(market.config.photo_dir, photo.sha256)
    stored.write_bytes(stored.read_bytes()[:-10] + b"0123456789")
    problems = records.verify(market, full=True).problems
    assert [(p.table, p.what) for p in problems] == [
        ("listing_photo", f"the photo file {photo.sha256[:12]}… was altered")
    ]

    stored.unlink()
    assert "is missing" in records.verify(market, full=True).problems[0].what


@pytest.mark.sqlite_only
def test_backup_and_restore_carry_the_photos(seller, market, config, clock, tmp_path):
    actor, listing_id = seller
    [photo] = actor.add_photos(listing_id, [jpeg_with_gps(tmp_path / "bike.jpg")])
    dest = tmp_path / "snap.db"
    records.backup(market, dest)
    beside = backups.photo_dir_of(dest)
    assert photos.file_sha256(photos.path_of(beside, photo.sha256)) == photo.sha256
    assert backups.check_backup(config, dest).ok
    market.close()

    # The home loses its photos; the restore brings them back from beside the backup.
    for found in config.photo_dir.iterdir():
        found.unlink()
    records.restore(config, clock, dest)
    assert photos.file_sha256(photos.path_of(config.photo_dir, photo.sha256)) == photo.sha256

    # A backup whose photo went missing (and a home without it) fails its check.
    photos.path_of(beside, photo.sha256).unlink()
    photos.path_of(config.photo_dir, photo.sha256).unlink()
    report = backups.check_backup(config, dest)
    assert not report.ok and report.problems[0].table == "listing_photo"


def test_export_carries_the_photos_and_its_check_sees_them_altered(seller, market, tmp_path):
    actor, listing_id = seller
    [photo] = actor.add_photos(listing_id, [jpeg_with_gps(tmp_path / "bike.jpg")])
    exported = json.loads(actor.export_history("lin").text)
    [carried] = exported["photos"]
    assert carried["sha256"] == photo.sha256 and carried["listing_id"] == listing_id
    assert records.verify_export(market, exported).ok

    carried["jpeg_base64"] = carried["jpeg_base64"][:-8] + "AAAAAAA="
    problems = records.verify_export(market, exported).problems
    assert any(p.table == "listing_photo" and "altered" in p.what for p in problems)
