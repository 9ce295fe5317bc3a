"""``retain rules``: validate rule files and publish their JSON Schema.

    retain rules validate rules/          # exit 1 and "file:line: field: message" per error
    retain rules schema --write schemas/rule.schema.json
"""

from __future__ import annotations

from pathlib import Path

import typer

from triggers.loader import check_rules, rule_files
from triggers.rule import rule_json_schema_text

app = typer.Typer(help="Trigger rules: validate files, publish the JSON Schema.", no_args_is_help=True)


@app.command()
def validate(path: Path = typer.Argument(..., help="a rule file or a folder of *.yaml / *.yml files")) -> None:
    """Validate rule files; print every error as file:line: field: message."""
    ruleset, errors = check_rules(path)
    if errors or ruleset is None:
        for error in errors:
            typer.echo(str(error))
        typer.echo(f"{len(errors)} error(s); no rules loaded", err=True)
        raise typer.Exit(code=1)
    files = len(rule_files(path))
    enabled = sum(1 for rule in ruleset if rule.enabled)
    typer.echo(
        f"ok: {len(ruleset)} rules ({enabled} enabled) in {files} file(s), fingerprint {ruleset.fingerprint}"
    )
    for rule in ruleset:
        state = "on " if rule.enabled else "off"
        typer.echo(f"  {state} {rule.id} v{rule.version} [{rule.topic}] {','.join(rule.signals)} priority {rule.priority}")


@app.command()
def schema(
    write: Path | None = typer.Option(None, "--write", help="write to this file instead of printing"),
) -> None:
    """Print (or write) the JSON Schema of rule files."""
    text = rule_json_schema_text()
    if write is None:
        typer.echo(text, nl=False)
        return
    write.parent.mkdir(parents=True, exist_ok=True)
    write.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {write}")
