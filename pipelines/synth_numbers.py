"""Synthetic phone numbers: which countries, which mobile ranges, which regions.

The audience per country is the project's reference table (`data/countries.csv`, DESIGN §11).
The mobile ranges below are leading digits for which every completion is a valid mobile number
according to `phonenumbers` (checked by the tests); only a few ranges per country are listed,
enough to look real.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ownership.countries import GLOBAL_OK_USERS_M, GLOBAL_VK_USERS_M
from pipelines.paths import DATA_DIR

COUNTRIES_CSV = DATA_DIR / "countries.csv"


def _ranges(free_digits: int, *leads: str) -> tuple[tuple[str, int], ...]:
    return tuple((lead, free_digits) for lead in leads)


# (leading E.164 digits, number of random digits after them), per country.
MOBILE_RANGES: dict[str, tuple[tuple[str, int], ...]] = {
    # +7 9xx: Russian mobile (DEF) codes; 793x is skipped, a few of its blocks are unassigned.
    "RU": _ranges(8, "790", "791", "792", "794", "795", "796", "797", "798", "799"),
    "KZ": _ranges(
        7,
        "7700",
        "7701",
        "7702",
        "7705",
        "7707",
        "7708",
        "7747",
        "7771",
        "7775",
        "7776",
        "7777",
        "7778",
    ),
    "UA": _ranges(
        7,
        "38050",
        "38063",
        "38066",
        "38067",
        "38068",
        "38073",
        "38093",
        "38095",
        "38096",
        "38097",
        "38098",
        "38099",
    ),
    "BY": _ranges(6, "375255", "375256", "375257", "375259", *(f"37529{d}" for d in "123456789"))
    + _ranges(7, "37533", "37544"),
    # NANP: area code, then an exchange that starts with 2-9.
    "US": _ranges(
        6,
        *(
            f"1{area}{d}"
            for area in ("212", "213", "312", "415", "617", "646", "718", "917")
            for d in "23456789"
        ),
    ),
    "TR": _ranges(
        7,
        "90505",
        "90506",
        "90507",
        *(f"9053{d}" for d in "0123456789"),
        *(f"9054{d}" for d in "123456789"),
        *(f"9055{d}" for d in "12345"),
    ),
    "AZ": _ranges(7, "99410", "99450", "99451", "99455", "99470", "99477", "99499"),
    "UZ": _ranges(
        7, "99833", "99888", "99890", "99891", "99893", "99894", "99895", "99897", "99898", "99899"
    ),
    "DE": _ranges(8, "49151", "49152", "49157", "49159")
    + _ranges(7, "49160", "49162", "49163", *(f"4917{d}" for d in "0123456789")),
    "MD": _ranges(6, "37360", "37362", "37367", "37368", "37369", "37378", "37379"),
    "KG": _ranges(7, "99622", "99650", "99655", "99670", "99677"),
    "AM": _ranges(
        6,
        "37433",
        "37441",
        "37443",
        "37444",
        "37449",
        "37455",
        "37477",
        "37491",
        "37493",
        "37494",
        "37495",
        "37496",
        "37498",
        "37499",
    ),
}

# ISO 3166-2 regions with rough population weights. Only the largest regions are listed; the
# point is that two strangers on one number often share a region, as they do in life.
REGIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "RU": (
        ("RU-MOW", 13.0),
        ("RU-MOS", 8.5),
        ("RU-KDA", 5.8),
        ("RU-SPE", 5.6),
        ("RU-SVE", 4.3),
        ("RU-ROS", 4.2),
        ("RU-BA", 4.0),
        ("RU-TA", 3.9),
        ("RU-CHE", 3.4),
        ("RU-NIZ", 3.1),
        ("RU-SAM", 3.1),
        ("RU-NVS", 2.8),
        ("RU-KYA", 2.8),
        ("RU-DA", 3.2),
    ),
    "UA": (("UA-30", 3.0), ("UA-12", 3.1), ("UA-63", 2.6), ("UA-51", 2.4), ("UA-46", 2.5)),
    "KZ": (("KZ-ALA", 2.2), ("KZ-AST", 1.4), ("KZ-SHY", 1.2), ("KZ-KAR", 1.1)),
    "BY": (("BY-HM", 2.0), ("BY-MI", 1.5), ("BY-GO", 1.3), ("BY-BR", 1.3)),
    "US": (("US-NY", 19.6), ("US-CA", 39.0), ("US-IL", 12.6), ("US-MA", 7.0)),
    "TR": (("TR-34", 15.6), ("TR-06", 5.7), ("TR-35", 4.4), ("TR-16", 3.2)),
    "AZ": (("AZ-BA", 2.3), ("AZ-GA", 0.3), ("AZ-SM", 0.3)),
    "UZ": (("UZ-TK", 2.9), ("UZ-SA", 4.0), ("UZ-FA", 3.9), ("UZ-AN", 3.3)),
    "DE": (("DE-BE", 3.7), ("DE-BY", 13.2), ("DE-NW", 18.0), ("DE-HE", 6.3)),
    "MD": (("MD-CU", 0.8), ("MD-BA", 0.1), ("MD-CA", 0.1)),
    "KG": (("KG-GB", 1.1), ("KG-GO", 0.3), ("KG-C", 1.0)),
    "AM": (("AM-ER", 1.1), ("AM-SH", 0.2), ("AM-LO", 0.2)),
}


@dataclass(frozen=True)
class CountryPlan:
    """How many of the numbers a country gets and how its people use VK and OK."""

    iso: str
    phone_share: float
    vk_share: float
    ok_share: float


def load_country_plans(union_share: float, path: Path = COUNTRIES_CSV) -> tuple[CountryPlan, ...]:
    """Country plans from the reference table, in table order.

    A country's share of numbers follows the larger of its two audiences (a lower bound of the
    union the table does not give). Its VK and OK shares are set so that the share with either
    account is `union_share` everywhere, split in the country's VK : OK proportion.
    """
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    audience: list[tuple[str, float, float]] = []
    for row in rows:
        if row["iso"] not in MOBILE_RANGES:
            raise ValueError(f"{path}: no mobile ranges known for country {row['iso']}")
        vk = float(row["vk_monthly_users_m"] or "nan")
        ok = float(row["ok_monthly_users_m"] or "nan")
        audience.append((row["iso"], vk, ok))
    sizes = [max(v for v in (vk, ok) if not math.isnan(v)) for _, vk, ok in audience]
    total = sum(sizes)
    plans = []
    for (iso, vk, ok), size in zip(audience, sizes, strict=True):
        if math.isnan(vk) or math.isnan(ok):
            vk, ok = GLOBAL_VK_USERS_M, GLOBAL_OK_USERS_M
        vk_share, ok_share = _split_union(union_share, vk / (vk + ok))
        plans.append(CountryPlan(iso, size / total, vk_share, ok_share))
    return tuple(plans)


def _split_union(union: float, vk_weight: float) -> tuple[float, float]:
    # Independent accounts with P(vk) = s*w, P(ok) = s*(1-w) and 1 - (1-P(vk))(1-P(ok)) = union:
    # w(1-w) s^2 - s + union = 0, the smaller root.
    product = vk_weight * (1 - vk_weight)
    if product == 0:  # one network only
        return (union, 0.0) if vk_weight else (0.0, union)
    scale = (1 - math.sqrt(1 - 4 * product * union)) / (2 * product)
    return scale * vk_weight, scale * (1 - vk_weight)


@dataclass(frozen=True)
class Numbers:
    """The drawn numbers: E.164 digits as int64, a country index and a region index each."""

    keys: np.ndarray
    country: np.ndarray
    region: np.ndarray


class RegionTable:
    """All regions of all planned countries, flattened, with per-country index ranges."""

    def __init__(self, plans: tuple[CountryPlan, ...]) -> None:
        codes: list[str] = []
        self.offsets: list[int] = []
        self.weights: list[np.ndarray] = []
        for plan in plans:
            regions = REGIONS[plan.iso]
            self.offsets.append(len(codes))
            codes += [code for code, _ in regions]
            weights = np.array([w for _, w in regions])
            self.weights.append(weights / weights.sum())
        self.codes = pa.array(codes, pa.string())

    def draw(self, rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        """A region for each entry of `country`, by the country's weights."""
        out = np.empty(country.size, dtype=np.int32)
        for c, (offset, weights) in enumerate(zip(self.offsets, self.weights, strict=True)):
            where = np.flatnonzero(country == c)
            out[where] = offset + rng.choice(weights.size, size=where.size, p=weights)
        return out


def draw_numbers(
    rng: np.random.Generator, count: int, plans: tuple[CountryPlan, ...], regions: RegionTable
) -> Numbers:
    """`count` distinct mobile numbers, countries in plan proportions, in random order."""
    per_country = rng.multinomial(count, [plan.phone_share for plan in plans])
    keys_parts, country_parts = [], []
    for c, (plan, wanted) in enumerate(zip(plans, per_country, strict=True)):
        ranges = MOBILE_RANGES[plan.iso]
        sizes = np.array([10**free for _, free in ranges], dtype=np.int64)
        space = int(sizes.sum())
        if wanted > space:
            raise ValueError(f"{plan.iso}: {wanted} numbers asked, its ranges hold {space}")
        # Distinct offsets into the concatenated ranges, then each offset into its range.
        offsets = rng.choice(space, size=int(wanted), replace=False).astype(np.int64)
        bounds = np.cumsum(sizes)
        which = np.searchsorted(bounds, offsets, side="right")
        within = offsets - (bounds - sizes)[which]
        leads = np.array([int(lead) * 10**free for lead, free in ranges], dtype=np.int64)
        keys_parts.append(leads[which] + within)
        country_parts.append(np.full(int(wanted), c, dtype=np.int16))
    keys = np.concatenate(keys_parts)
    country = np.concatenate(country_parts)
    # Shuffle so that every chunk mixes countries, as a real history would.
    order = rng.permutation(keys.size)
    keys, country = keys[order], country[order]
    return Numbers(keys=keys, country=country, region=regions.draw(rng, country))


def e164_strings(keys: np.ndarray) -> pa.StringArray:
    """79234567823 → '+79234567823', vectorised."""
    digits = pc.cast(pa.array(keys, pa.int64()), pa.string())
    text: pa.StringArray = pc.binary_join_element_wise("+", digits, "")
    return text
