"""The rendered rule builder posts exactly ``fields_of`` of its rule: the template and the mapping agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from retain.console.pages import templates
from retain.console.rule_builder import NEW_RULE, from_form
from retain.console.rule_form import content_of, fields_of, posted
from tests.fakes.html_form import form_fields
from tests.unit.console.test_console_rule_form import valid_rule
from triggers.loader import load_rules

ROOT = Path(__file__).resolve().parents[3]


def rendered(content, errors=None, *, can_edit=True) -> str:
    return templates.get_template("rule_builder.html").render(
        content=content, builder_errors=errors or {}, is_new=False, can_edit=can_edit)


def builder_posts(content) -> dict[str, list[str]]:
    return posted((n, v.replace("\n", "\r\n")) for n, v in form_fields(rendered(content)) if n.startswith("r."))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_rule())
def test_the_rendered_form_posts_the_rule_it_shows(content):
    assert builder_posts(content) == posted(fields_of(content))
    assert content_of(builder_posts(content)) == (content, [])


@pytest.mark.parametrize("rule", list(load_rules(ROOT / "rules")), ids=lambda r: r.id)
def test_the_shipped_rules_render_and_post_back(rule):
    assert content_of(builder_posts(rule.canonical()))[0] == rule.canonical()


def test_a_new_rule_shows_its_errors_next_to_the_fields():
    state = from_form(fields_of(NEW_RULE))
    html = rendered(state.content, state.errors_by_path())
    assert not state.valid
    for path in ("r.id", "r.signals", "r.action.brief"):
        assert f'data-error-for="{path}">' in html
        message = state.errors_by_path()[path][0]
        assert f'data-error-for="{path}">{message}'.replace("'", "&#39;") in html


def test_a_viewer_sees_the_form_but_it_posts_nothing():
    assert form_fields(rendered(NEW_RULE, can_edit=False)) == []
