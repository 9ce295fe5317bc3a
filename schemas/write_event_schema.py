"""Write ``schemas/event.schema.json`` from ``signals.events.json_schema()``.

Run ``python schemas/write_event_schema.py`` after changing an event type, or with ``--check``
(exit 1 when the file is stale). Depends on ``signals`` only, not on the ``retain`` service.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("event.schema.json")


def render() -> str:
    """The schema file's exact text (sorted keys, two-space indent, trailing newline)."""
    from signals.events import json_schema

    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the file, or with ``--check`` report whether it is current."""
    text = render()
    if "--check" in argv:
        current = SCHEMA_PATH.read_text() if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is stale; run python schemas/write_event_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
    raise SystemExit(main(sys.argv[1:]))
