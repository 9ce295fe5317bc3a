"""A seeded population of customers: contacts, geography, consent, plans and latent traits.

Everything here is plain data drawn from ``random.Random`` streams derived from the seed and the
customer's index, so customer 17 is the same person whatever the population size.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import phonenumbers

from simulator.response import PERSUADABLE, draw_response_type

# (country, region ISO 3166-2, IANA zone, locale, currency, weight, phone prefix or None).
# US entries carry a real area code; Florida's panhandle (850) is on Central time and Oklahoma is
# Central too, so quiet-hour rules meet both Eastern and Central customers in one state.
_US_PLACES: tuple[tuple[str, str, str, float], ...] = (
    ("305", "US-FL", "America/New_York", 3.0),  # Miami
    ("813", "US-FL", "America/New_York", 2.0),  # Tampa
    ("407", "US-FL", "America/New_York", 2.0),  # Orlando
    ("850", "US-FL", "America/Chicago", 1.0),  # Pensacola, Central time
    ("405", "US-OK", "America/Chicago", 2.0),  # Oklahoma City
    ("918", "US-OK", "America/Chicago", 1.5),  # Tulsa
    ("212", "US-NY", "America/New_York", 3.0),
    ("617", "US-MA", "America/New_York", 1.5),
    ("404", "US-GA", "America/New_York", 1.5),
    ("312", "US-IL", "America/Chicago", 2.0),
    ("512", "US-TX", "America/Chicago", 2.0),
    ("303", "US-CO", "America/Denver", 1.5),
    ("602", "US-AZ", "America/Phoenix", 1.5),  # no DST
    ("415", "US-CA", "America/Los_Angeles", 3.0),
    ("206", "US-WA", "America/Los_Angeles", 2.0),
    ("907", "US-AK", "America/Anchorage", 0.3),
    ("808", "US-HI", "Pacific/Honolulu", 0.4),
)
_OTHER_PLACES: tuple[tuple[str, str, str, str, str, float], ...] = (
    # (phone region, ISO 3166-2, zone, locale, currency, weight)
    ("CA", "CA-ON", "America/Toronto", "en-CA", "CAD", 2.0),
    ("GB", "GB-LND", "Europe/London", "en-GB", "GBP", 4.0),
    ("DE", "DE-BE", "Europe/Berlin", "de-DE", "EUR", 3.0),
    ("FR", "FR-IDF", "Europe/Paris", "fr-FR", "EUR", 2.0),
    ("ES", "ES-MD", "Europe/Madrid", "es-ES", "EUR", 1.5),
    ("NL", "NL-NH", "Europe/Amsterdam", "nl-NL", "EUR", 1.0),
    ("AU", "AU-NSW", "Australia/Sydney", "en-AU", "AUD", 1.5),  # southern-hemisphere DST
    ("JP", "JP-13", "Asia/Tokyo", "ja-JP", "JPY", 1.0),
    ("IN", "IN-MH", "Asia/Kolkata", "en-IN", "INR", 1.5),  # half-hour offset
    ("BR", "BR-SP", "America/Sao_Paulo", "pt-BR", "BRL", 1.0),
)
_US_SHARE = 0.6
MOVE_DESTINATIONS = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Europe/Berlin")

_FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sofia", "Lucas", "Mia", "Elijah", "Amara",
    "Hiro", "Yuki", "Priya", "Arjun", "Lena", "Jonas", "Chloé", "Hugo", "Lucía", "Pablo", "Sanne",
    "Daan", "Charlotte", "Oliver", "Aiyana", "Kwame", "Fatima", "Omar", "Zoe", "Gabriel", "Ana",
)
_LAST_NAMES = (
    "Smith", "Garcia", "Nguyen", "Müller", "Dubois", "Rossi", "Tanaka", "Patel", "Silva", "Jansen",
    "Brown", "Martinez", "Kim", "Okafor", "Schmidt", "Lopez", "Wilson", "Sato", "Singh", "Moreau",
)
_MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")

PLANS: dict[str, float] = {"free": 0.0, "basic": 12.0, "pro": 39.0}  # plan -> monthly amount


@dataclass
class Customer:
    """One simulated customer: what upstream systems know plus latent traits only the simulator knows."""

    index: int
    customer_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    time_zone: str
    utc_offset_hours: float  # at start; behaviour timing only, DST is irrelevant to it
    locale: str
    country: str
    region: str
    currency: str
    plan: str
    subscription_id: str | None
    signed_up_at: dt.datetime
    consent: dict[str, bool | None]
    # Latent traits.
    order_rate: float  # completed orders per day
    amount_mu: float  # log-scale mean of order amounts
    usage_baseline: float  # sessions per healthy day
    weekend_lover: bool  # weekly seasonality: weekend-heavy instead of weekday-heavy
    checkout_completion: float
    base_hazard: float  # daily churn hazard with no bad experiences
    sensitivity: float  # how strongly bad experiences raise the hazard
    persuadable: bool  # a helpful message lowers this customer's hazard (response_type == "persuadable")
    moved: bool = False  # time zone no longer matches the phone's area code
    response_type: str = "persuadable"  # simulator.response: how a message changes their churn hazard
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def monthly_amount(self) -> float:
        """What the customer's plan costs per month."""
        return PLANS[self.plan]

    def profile_properties(self) -> dict[str, object]:
        """The ``customer.profile`` payload upstream would send for this customer."""
        props: dict[str, object] = {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "time_zone": self.time_zone,
            "locale": self.locale,
            "country": self.country,
            "region": self.region,
            "plan": self.plan,
            "signed_up_at": self.signed_up_at.isoformat(),
            "consent": dict(self.consent),
        }
        if self.phone is not None:
            props["phone"] = self.phone
        if self.extras.get("shop"):
            del props["plan"]  # a retail shop has customers, not plans
        return props


def customer_rng(seed: int, index: int, stream: str) -> random.Random:
    """An independent random stream for one customer and purpose (str seeding is stable)."""
    return random.Random(f"retain-sim:{seed}:{index}:{stream}")


def _us_phone(rng: random.Random, area_code: str) -> str:
    while True:
        number = f"+1{area_code}{rng.randint(201, 989)}{rng.randint(0, 9999):04d}"
        if number[5:7] != "11" and phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def _foreign_phone(rng: random.Random, region: str) -> str:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    for _ in range(200):
        tail = "".join(str(rng.randint(0, 9)) for _ in range(6))
        candidate = phonenumbers.PhoneNumber(country_code=example.country_code,
                                             national_number=int(national[:-6] + tail))
        if phonenumbers.is_valid_number(candidate):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def _consent(rng: random.Random, has_phone: bool) -> dict[str, bool | None]:
    # Roughly what marketing opt-in looks like: half opt into e-mail, far fewer into SMS, and a
    # fair share of legacy records where nobody knows.
    def pick(yes: float, no: float) -> bool | None:
        u = rng.random()
        return True if u < yes else (False if u < yes + no else None)

    return {
        "email_marketing": pick(0.55, 0.25),
        "sms_marketing": pick(0.30, 0.40) if has_phone else False,
        "email_service": True,
        "sms_service": pick(0.8, 0.1) if has_phone else False,
    }


def utc_offset_hours(zone: str, at: dt.datetime | float) -> float:
    """The UTC offset of ``zone`` at ``at`` (a datetime or epoch seconds), in hours."""
    moment = at if isinstance(at, dt.datetime) else dt.datetime.fromtimestamp(at, dt.timezone.utc)
    offset = moment.astimezone(ZoneInfo(zone)).utcoffset()
    return offset.total_seconds() / 3600 if offset else 0.0


def build_customer(seed: int, index: int, start: dt.datetime, scenario: str = "default") -> Customer:
    """Draw customer ``index`` of the population seeded by ``seed`` (independent of population size).

    ``scenario`` (``simulator.scenarios``) adds its traits from a separate random stream, so the
    default draws are the same in every scenario.
    """
    customer = _draw_customer(seed, index, start)
    # From its own stream, after the population draws: every other trait (and event) is unchanged.
    tenure_days = (start - customer.signed_up_at).total_seconds() / 86400
    customer.response_type = draw_response_type(customer_rng(seed, index, "response"), customer.plan,
                                                tenure_days, customer.usage_baseline)
    customer.persuadable = customer.response_type == PERSUADABLE
    if scenario == "product":
        from simulator.scenarios import product_use

        customer.extras["product_use"] = product_use(customer_rng(seed, index, "product"))
    elif scenario == "shop":
        customer.extras["shop"] = True
        customer.subscription_id = None
        customer.base_hazard /= _PLAN_HAZARD[customer.plan]  # no plans: no plan effect on churn
    elif scenario != "default":
        raise ValueError(f"unknown scenario {scenario!r}")
    return customer


_PLAN_HAZARD = {"free": 1.6, "basic": 1.0, "pro": 0.7}
# Per-customer churn traits no event reveals: log-normal spreads around what plan and tenure say.
BASE_NOISE = 0.35
SENSITIVITY_NOISE = 0.3


def observable_base_hazard(plan: str | None, tenure_days: float) -> float:
    """The daily base hazard that plan and tenure imply (a customer's own is this times noise)."""
    tenure_hazard = 1.8 if tenure_days < 90 else (1.2 if tenure_days < 365 else 0.9)
    return 0.0011 * _PLAN_HAZARD.get(plan or "", 1.0) * tenure_hazard


def _draw_customer(seed: int, index: int, start: dt.datetime) -> Customer:
    rng = customer_rng(seed, index, "population")
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    handle = f"{first}.{last}".lower().encode("ascii", "ignore").decode() or "customer"
    email = f"{handle}{index}@{rng.choice(_MAIL_DOMAINS)}"
    if rng.random() < _US_SHARE:
        area, region, zone, _ = rng.choices(_US_PLACES, weights=[p[3] for p in _US_PLACES])[0]
        country, locale, currency = "US", ("es-US" if rng.random() < 0.1 else "en-US"), "USD"
        phone: str | None = _us_phone(rng, area)
    else:
        phone_region, region, zone, locale, currency, _ = rng.choices(
            _OTHER_PLACES, weights=[p[5] for p in _OTHER_PLACES])[0]
        country = region[:2]
        phone = _foreign_phone(rng, phone_region)
    moved = rng.random() < 0.07
    if moved:  # kept the old number, lives somewhere else now
        zone = rng.choice([z for z in MOVE_DESTINATIONS if z != zone])
    if rng.random() < 0.15:
        phone = None  # no phone on file
    plan = rng.choices(("free", "basic", "pro"), weights=(0.55, 0.30, 0.15))[0]
    tenure_days = min(rng.expovariate(1 / 420), 5 * 365) + rng.random()
    signed_up = (start - dt.timedelta(days=tenure_days)).replace(microsecond=0)
    persuadable = rng.random() < 0.35  # superseded by the response type; drawn to keep later draws in place
    return Customer(
        index=index,
        customer_id=f"cus_{index:06d}",
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        time_zone=zone,
        utc_offset_hours=utc_offset_hours(zone, start),
        locale=locale,
        country=country,
        region=region,
        currency=currency,
        plan=plan,
        subscription_id=f"sub_{index:06d}" if plan != "free" else None,
        signed_up_at=signed_up,
        consent=_consent(rng, phone is not None),
        order_rate=rng.gammavariate(1.5, 1 / 1.5) / 18.0,  # mean one order every ~18 days
        amount_mu=rng.gauss(3.7, 0.5),  # median order ~40 in local currency units
        usage_baseline=rng.gammavariate(2.5, 2.0) * (1.4 if plan == "pro" else 1.0),
        weekend_lover=rng.random() < 0.3,
        checkout_completion=min(0.9, max(0.3, rng.gauss(0.65, 0.12))),
        base_hazard=observable_base_hazard(plan, tenure_days) * rng.lognormvariate(0.0, BASE_NOISE),
        sensitivity=rng.lognormvariate(0.0, SENSITIVITY_NOISE),
        persuadable=persuadable,
        moved=moved,
    )


def build_population(size: int, seed: int, start: dt.datetime, scenario: str = "default") -> list[Customer]:
    """The first ``size`` customers of the population seeded by ``seed``."""
    if size < 0:
        raise ValueError("population size must be >= 0")
    return [build_customer(seed, i, start, scenario) for i in range(size)]
