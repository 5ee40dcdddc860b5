"""Categories (with units and price priors) and areas, read from data/ once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from p2pmarket import text
from p2pmarket.errors import Invalid, Refused
from p2pmarket.geo import haversine_km
from p2pmarket.models import Kind, Unit


@dataclass(frozen=True)
class Band:
    p25: int
    p50: int
    p75: int


@dataclass(frozen=True)
class Category:
    slug: str
    name: str
    name_zh: str
    kinds: tuple[Kind, ...]
    units: tuple[Unit, ...]
    prior: dict[Unit, Band]
    words_en: tuple[str, ...]
    words_zh: tuple[str, ...]


@dataclass(frozen=True)
class Landmark:
    """A public place to meet in an area (a station exit, a park gate): never a home."""

    key: str
    name: str


@dataclass(frozen=True)
class Area:
    slug: str
    name: str
    name_zh: str
    lat: float
    lon: float
    density: int
    landmarks: tuple[Landmark, ...] = ()


def _read(name: str) -> dict:
    return json.loads(resources.files("p2pmarket.data").joinpath(name).read_text("utf-8"))


@cache
def categories() -> dict[str, Category]:
    result = {}
    for raw in _read("categories.json")["categories"]:
        result[raw["slug"]] = Category(
            slug=raw["slug"],
            name=raw["name"],
            name_zh=raw.get("name_zh", raw["name"]),
            kinds=tuple(Kind(k) for k in raw["kinds"]),
            units=tuple(Unit(u) for u in raw["units"]),
            prior={Unit(u): Band(**band) for u, band in raw["prior"].items()},
            words_en=tuple(raw["words"]["en"]),
            words_zh=tuple(raw["words"]["zh"]),
        )
    return result


@cache
def areas() -> dict[str, Area]:
    return {
        raw["slug"]: Area(
            slug=raw["slug"],
            name=raw["name"],
            name_zh=raw.get("name_zh", raw["name"]),
            lat=raw["lat"],
            lon=raw["lon"],
            density=raw.get("density", 5),
            landmarks=tuple(Landmark(m["key"], m["name"]) for m in raw.get("landmarks", ())),
        )
        for raw in _read("areas.json")["areas"]
    }


def _lookup(table: dict, text: str, what: str, hint: str):
    key = text.strip().lower()
    if key in table:
        return table[key]
    for item in table.values():
        if key in (item.name.lower(), item.name_zh):
            return item
    raise Invalid(f"unknown_{what}", f"Unknown {what} {text[:40]!r}; {hint}.")


def category(text: str) -> Category:
    return _lookup(categories(), text, "category", "`p2pmarket listing categories` lists them")


def area(text: str) -> Area:
    return _lookup(areas(), text, "area", "`p2pmarket areas` lists them")


def nearest_area(lat: float, lon: float) -> Area:
    return min(areas().values(), key=lambda a: haversine_km(lat, lon, a.lat, a.lon))


def landmark(place: Area, key: str) -> Landmark:
    """The landmark `key` of an area, or a refusal naming the area's landmarks."""
    wanted = key.strip().lower()
    for found in place.landmarks:
        if found.key == wanted:
            return found
    valid = ", ".join(m.key for m in place.landmarks)
    raise Refused(
        "unknown_landmark",
        f"No landmark {text.strip_controls(key)[:40]!r} in {place.name}; its landmarks are: "
        f"{valid}.",
    )


def check_listing_shape(cat: Category, kind: Kind, unit: Unit) -> None:
    if kind not in cat.kinds:
        allowed = ", ".join(cat.kinds)
        raise Invalid("kind_not_allowed", f"Category {cat.slug} takes kind {allowed}, not {kind}.")
    if unit not in cat.units:
        allowed = ", ".join(cat.units)
        raise Invalid(
            "unit_not_allowed", f"Category {cat.slug} is priced per {allowed}, not per {unit}."
        )
