"""Where the recipient is: regions (ISO 3166-2, e.g. ``US-FL``) and IANA time zones.

Two sources that may disagree: the customer facts (``region``, ``country``, ``time_zone``) and
the phone number's area code (``phonenumbers`` time-zone and geocoder data, shipped offline).
The policy uses both and applies the stricter rule.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder, timezone

_US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Washington D.C.": "DC", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID",
    "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY",
    "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
    "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE",
    "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH",
    "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI",
    "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT",
    "Vermont": "VT", "Virginia": "VA", "Washington": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY",
}
_US_CODES = set(_US_STATES.values())


@lru_cache(maxsize=4096)
def _parse(phone: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def is_valid_phone(phone: str) -> bool:
    """True when ``phone`` parses (international form) as a valid number (memoised per number)."""
    return _parse(phone) is not None


def valid_zone(name: Any) -> str | None:
    """The name when it is a known IANA time zone, else None."""
    if not isinstance(name, str) or not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


@lru_cache(maxsize=4096)
def phone_time_zones(phone: str) -> tuple[str, ...]:
    """IANA zones the phone number's area code belongs to (empty when unknown)."""
    number = _parse(phone)
    if number is None:
        return ()
    zones = timezone.time_zones_for_number(number)
    return tuple(z for z in zones if valid_zone(z))


@lru_cache(maxsize=4096)
def phone_region(phone: str) -> str | None:
    """ISO 3166-2 region of a US phone number's area code (``US-FL``), else None."""
    number = _parse(phone)
    if number is None or phonenumbers.region_code_for_number(number) != "US":
        return None
    place = geocoder.description_for_number(number, "en")
    # The geocoder answers "Florida" for a whole area code and "Orlando, FL" for finer prefixes.
    if ", " in place and place.rsplit(", ", 1)[1] in _US_CODES:
        return f"US-{place.rsplit(', ', 1)[1]}"
    code = _US_STATES.get(place)
    return f"US-{code}" if code else None


def customer_region(customer: Mapping[str, Any]) -> str | None:
    """The customer's stated region as ISO 3166-2 (``US-FL``), accepting ``FL`` plus country."""
    region = customer.get("region")
    if not isinstance(region, str) or not region:
        return None
    region = region.strip().upper()
    if "-" in region:
        return region
    country = customer.get("country")
    return f"{country.upper()}-{region}" if isinstance(country, str) and country else None


def recipient_regions(customer: Mapping[str, Any]) -> set[str]:
    """Every region the customer may be in: stated region and the phone's area code region."""
    regions = {customer_region(customer)}
    phone = customer.get("phone")
    if isinstance(phone, str) and phone:
        regions.add(phone_region(phone))
    return {r for r in regions if r}


def recipient_time_zones(customer: Mapping[str, Any], use_phone: bool) -> set[str]:
    """Every time zone the customer may be in: stated zone, plus the phone's when ``use_phone``."""
    zones = {valid_zone(customer.get("time_zone"))}
    phone = customer.get("phone")
    if use_phone and isinstance(phone, str) and phone:
        zones.update(phone_time_zones(phone))
    return {z for z in zones if z}
