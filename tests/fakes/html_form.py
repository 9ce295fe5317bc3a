"""What a browser would post for an HTML form, read from the page's markup (the successful controls, in order).

Enough of the HTML rules for the console's forms: text-like inputs, ticked check boxes and radio
buttons, textareas (the newline right after ``<textarea>`` is dropped, as parsers do), selects
(selected options, else the first of a single select), and nothing inside a disabled fieldset.
Buttons post only when pressed, so they are left out.
"""

from __future__ import annotations

from html.parser import HTMLParser

_TEXT_TYPES = {"text", "hidden", "number", "date", "email", "password", "search", "tel", "url", ""}


class _FormReader(HTMLParser):
    def __init__(self, form_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = form_id is None
        self.disabled_depth = 0  # open disabled fieldsets
        self.fields: list[tuple[str, str]] = []
        self._textarea: tuple[str, list[str]] | None = None
        self._select: tuple[str, bool, list[tuple[str, bool]]] | None = None
        self._option: tuple[str | None, bool, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form" and self.form_id is not None:
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "fieldset" and ("disabled" in a or self.disabled_depth):
            self.disabled_depth += 1
        live = not self.disabled_depth and "disabled" not in a and "name" in a
        if tag == "input" and live:
            kind = a.get("type", "").lower()
            if kind in _TEXT_TYPES:
                self.fields.append((a["name"], a.get("value", "")))
            elif kind in ("checkbox", "radio") and "checked" in a:
                self.fields.append((a["name"], a.get("value", "on")))
        elif tag == "textarea" and live:
            self._textarea = (a["name"], [])
        elif tag == "select" and live:
            self._select = (a["name"], "multiple" in a, [])
        elif tag == "option" and self._select is not None:
            self._option = (a.get("value"), "selected" in a, [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        if self._option is not None:
            self._option[2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.form_id is not None:
            self.inside = False
        if tag == "fieldset" and self.disabled_depth:
            self.disabled_depth -= 1
        if tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            self.fields.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        if tag == "option" and self._option is not None and self._select is not None:
            value, selected, parts = self._option
            self._select[2].append((value if value is not None else " ".join("".join(parts).split()), selected))
            self._option = None
        if tag == "select" and self._select is not None:
            name, multiple, options = self._select
            chosen = [v for v, selected in options if selected]
            if not chosen and not multiple and options:
                chosen = [options[0][0]]
            self.fields += [(name, v) for v in (chosen if multiple else chosen[-1:])]
            self._select = None


def form_fields(html: str, form_id: str | None = None) -> list[tuple[str, str]]:
    """The (name, value) pairs the form ``form_id`` (or every control, when None) posts as shown."""
    reader = _FormReader(form_id)
    reader.feed(html)
    reader.close()
    return reader.fields


def as_data(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Pairs as the ``data=`` mapping an HTTP test client posts (repeated names keep their order)."""
    data: dict[str, list[str]] = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return data
