"""The template drafter: sandboxed Jinja2 templates per signal kind and language.

Used when no LLM is configured (the embedded default, so the demo runs offline) and as the
fallback when an LLM draft fails twice or the LLM is unavailable. A template file sets
``subject``, ``preheader``, ``body`` and ``sms`` (``{% set subject %}...{% endset %}``); it gets the
same inputs as the LLM: ``first_name``, ``facts``, ``reason``, ``topic``, ``offers``, ``drivers``, and
``date()`` / ``money()`` that write dates and amounts the way the locale reads them.
The sandbox keeps templates (which ops may edit) away from Python internals; HTML is autoescaped.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, FileSystemLoader, TemplateNotFound, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from outreach.drafting.brief import DraftRequest
from outreach.drafting.draft import Draft, DraftResult
from outreach.drafting.locale_format import format_amount, format_date

NAME = "template"
DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_LANGUAGE = "en"


def make_environment(templates_dir: Path = DEFAULT_TEMPLATES) -> SandboxedEnvironment:
    """A sandboxed environment; ``.html`` templates are autoescaped, text templates are not."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=ChainableUndefined,  # a missing fact renders empty instead of crashing the fallback
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _tidy(text: Any) -> str:
    # Templates are written for reading; collapse their layout whitespace.
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in str(text).strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class TemplateDrafter:
    """Renders ``<language>/<signal_kind>.j2`` (falling back to English and to ``generic.j2``)."""

    name = NAME

    def __init__(self, templates_dir: Path = DEFAULT_TEMPLATES):
        self.env = make_environment(templates_dir)

    def _template(self, language: str, kind: str) -> tuple[Any, str]:
        for lang, name in ((language, kind), (DEFAULT_LANGUAGE, kind), (language, "generic"),
                           (DEFAULT_LANGUAGE, "generic")):
            try:
                return self.env.get_template(f"{lang}/{name}.j2"), lang
            except TemplateNotFound:
                continue
        raise TemplateNotFound(f"{DEFAULT_LANGUAGE}/generic.j2")

    def render(self, request: DraftRequest) -> Draft:
        """The draft for ``request``, in its language when a template exists, else in English."""
        template, lang = self._template(request.language, request.signal_kind)
        module = template.make_module({
            "first_name": request.first_name,
            "facts": dict(request.facts),
            "reason": request.signal_reason,
            "topic": request.topic,
            "offers": [{"code": o.code, "description": o.description} for o in request.offers],
            "drivers": list(request.drivers),
            "date": lambda value: format_date(value, lang),
            "money": lambda amount, currency=None: format_amount(amount, currency or request.facts.get("currency"), lang),
        })
        if request.channel == "sms":
            return Draft(body=_tidy(module.sms), language=lang)
        return Draft(body=_tidy(module.body), subject=_tidy(module.subject), preheader=_tidy(module.preheader),
                     language=lang)

    def draft(self, request: DraftRequest, *, problems: list[dict[str, str]] | None = None) -> DraftResult:
        """Render the template; ``problems`` is ignored (a template does not learn)."""
        started = time.perf_counter()
        draft = self.render(request)
        return DraftResult(drafter=self.name, draft=draft, model=None,
                           latency_ms=(time.perf_counter() - started) * 1000)

    def render_html(self, context: dict[str, Any]) -> str:
        """The HTML e-mail from the autoescaped layout (subject, preheader, paragraphs, footer, link)."""
        return self.env.get_template("email.html.j2").render(context)
