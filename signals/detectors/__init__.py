"""Pure detectors: shipping delay, usage drop, checkout idle (see ``base`` for the contract)."""

from signals.detectors.base import Detector
from signals.detectors.checkout_idle import CheckoutIdleConfig, CheckoutIdleDetector
from signals.detectors.shipping_delay import ShippingDelayConfig, ShippingDelayDetector
from signals.detectors.usage_drop import UsageDropConfig, UsageDropDetector

__all__ = [
    "CheckoutIdleConfig",
    "CheckoutIdleDetector",
    "Detector",
    "ShippingDelayConfig",
    "ShippingDelayDetector",
    "UsageDropConfig",
    "UsageDropDetector",
]
