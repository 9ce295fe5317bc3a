"""Typed settings slices: the domains get the part of the configuration they use, never the whole object.

The whole ``Settings`` (seventy-odd fields) is built once per entry point; ``retain/`` hands each
part its frozen slice. These tests keep it that way: every slice is filled from the same-named
environment variables, and no domain module below ``retain/`` reaches for the whole object except
the two places that must (a CLI entry point, and the wiring that fills development keys in).
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = ("signals", "models", "triggers", "outreach", "simulator")
MAY_TAKE_THE_WHOLE = {
    "triggers/cli.py",  # an entry point: builds Settings from the environment
    "outreach/wiring.py",  # fills generated development webhook keys into the settings the root runs with
}
SLICES = [name for name in dir(Settings) if isinstance(getattr(Settings, name, None), property)
          and name in {"features", "detectors", "providers", "outbox", "llm", "message_framing", "reputation",
                       "webhooks", "threading", "conversations", "policy", "serving", "decisions"}]


def _leaves(value: object, prefix: str = "") -> dict[str, object]:
    """A slice's fields, nested slices flattened to ``outer.inner`` names."""
    out: dict[str, object] = {}
    for field in dataclasses.fields(value):  # type: ignore[arg-type]
        inner = getattr(value, field.name)
        if dataclasses.is_dataclass(inner):
            out.update(_leaves(inner, f"{prefix}{field.name}."))
        else:
            out[f"{prefix}{field.name}"] = inner
    return out


@pytest.mark.parametrize("slice_name", SLICES)
def test_every_slice_field_is_the_settings_value_of_the_same_name(slice_name):
    settings = Settings(_env_file=None, rules_dir=Path("elsewhere"), rules_reload_seconds=7.5,
                        escalation_pause_hours=12.0, risk_cut_points=[0.1, 0.9], marketing_email_requires_opt_in=True)
    for dotted, value in _leaves(getattr(settings, slice_name)).items():
        assert value == getattr(settings, dotted.rsplit(".", 1)[-1]), (slice_name, dotted)


@pytest.mark.parametrize(("variable", "value", "path"), [
    ("RETAIN_RULES_DIR", "my-rules", ("decisions", "rules_dir")),
    ("RETAIN_RULES_RELOAD_SECONDS", "9", ("decisions", "rules_reload_seconds")),
    ("RETAIN_ESCALATION_PAUSE_HOURS", "24", ("decisions", "policy", "escalation_pause_hours")),
    ("RETAIN_MARKETING_EMAIL_REQUIRES_OPT_IN", "true", ("policy", "marketing_email_requires_opt_in")),
    ("RETAIN_MODEL_RELOAD_SECONDS", "30", ("decisions", "serving", "model_reload_seconds")),
    ("RETAIN_MODEL_REGISTRY_DIR", "/srv/models", ("serving", "model_registry_path")),
])
def test_the_decision_slice_reads_the_environment(monkeypatch, variable, value, path):
    monkeypatch.setenv(variable, value)
    found: object = Settings(_env_file=None)
    for name in path:
        found = getattr(found, name)
    expected = {"my-rules": Path("my-rules"), "/srv/models": Path("/srv/models"), "true": True}.get(value)
    assert found == (expected if expected is not None else float(value))


def _takes_the_whole_settings(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "infra.settings":
            if any(alias.name == "Settings" for alias in node.names):
                return True
    return False


def test_no_domain_module_takes_the_whole_settings_object():
    offenders = sorted(
        str(path.relative_to(ROOT)) for domain in DOMAINS for path in (ROOT / domain).rglob("*.py")
        if str(path.relative_to(ROOT)) not in MAY_TAKE_THE_WHOLE and _takes_the_whole_settings(path)
    )
    assert offenders == [], "pass these a typed slice of infra.settings instead of Settings: " + ", ".join(offenders)


def test_the_slices_list_is_complete():
    # A new slice property on Settings is checked by the tests above only once it is listed here.
    properties = {name for name in dir(Settings) if isinstance(getattr(Settings, name, None), property)}
    slices = {name for name in properties
              if dataclasses.is_dataclass(getattr(Settings(_env_file=None), name))}
    assert slices == set(SLICES)
