"""``retain rules``: validate rule files and publish their JSON Schema.

    retain rules validate rules/          # exit 1 and "file:line: field: message" per error
    retain rules schema --write schemas/rule.schema.json
    retain rules backtest rules/ --events history.jsonl [--json] [--model DIR] [--compare-risk 0.3]
    retain rules uplift-data rules/ --events history.jsonl --out uplift.parquet
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from triggers.loader import check_rules, rule_files
from triggers.rule import rule_json_schema_text

app = typer.Typer(help="Trigger rules: validate, publish the JSON Schema, backtest on history.", no_args_is_help=True)


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


def _rules_and_events(path: Path, events: Path):
    """The rule set at ``path`` (exit 1 with every error) after checking the events file exists."""
    ruleset, errors = check_rules(path)
    if errors or ruleset is None:
        for error in errors:
            typer.echo(str(error), err=True)
        raise typer.Exit(code=1)
    if not events.exists() or events.suffix not in (".jsonl", ".parquet"):
        raise typer.BadParameter(f"{events}: need an existing .jsonl or .parquet file", param_hint="--events")
    return ruleset


@app.command()
def backtest(
    path: Path = typer.Argument(..., help="a rule file or a folder of *.yaml / *.yml files"),
    events: Path = typer.Option(..., "--events", help="event history: .jsonl or .parquet (e.g. from retain simulate)"),
    json_out: bool = typer.Option(False, "--json", help="print the report as JSON"),
    model: Path | None = typer.Option(None, "--model", help="model registry folder (default: the settings')"),
    no_model: bool = typer.Option(False, "--no-model", help="decide without risk scores"),
    compare_risk: float | None = typer.Option(
        None, "--compare-risk", min=0.0, max=1.0,
        help="also compare 'risk > X' with 'uplift > y' per rule at the same message volume (needs a promoted "
             "uplift model)"),
) -> None:
    """Replay history through the real detectors, scorer and policy; report what would have gone out."""
    from rich.console import Console

    from infra.settings import Settings
    from triggers.backtest import run_backtest
    from triggers.backtest_cli import load_scorer, print_report, raw_events
    from triggers.policy import PolicyConfig

    ruleset = _rules_and_events(path, events)
    settings = Settings()
    scorer, model_line = (None, "risk scores off (--no-model)") if no_model else load_scorer(model, settings.serving)
    config = PolicyConfig.from_settings(settings.policy)
    report = run_backtest(raw_events(events, progress=not json_out), ruleset, scorer=scorer, policy_config=config)
    extra: dict = {}
    if compare_risk is not None:
        if not hasattr(scorer, "uplift_points"):
            typer.echo(f"--compare-risk needs a promoted uplift model ({model_line})", err=True)
            raise typer.Exit(code=1)
        extra["targeting"] = _compare_targeting(events, ruleset, scorer, config, compare_risk, progress=not json_out)
    if json_out:
        typer.echo(json.dumps({**report.to_dict(), "rules_fingerprint": ruleset.fingerprint, "model": model_line,
                               **extra}))
        return
    print_report(report, Console(), model_line=model_line)
    if extra:
        from triggers.backtest_cli import print_targeting

        print_targeting(extra["targeting"], Console())


def _compare_targeting(events: Path, ruleset, scorer, config, risk_threshold: float, *, progress: bool) -> dict:
    import datetime as dt

    from triggers.backtest_cli import raw_events
    from triggers.targeting import compare_rules
    from triggers.uplift_data import backtest_uplift_rows

    # Every candidate counts, goal window closed or not: only risk and predicted uplift are compared.
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc) - dt.timedelta(days=3650)
    rows = backtest_uplift_rows(raw_events(events, progress=progress), ruleset, list(scorer.feature_names),
                                scorer=scorer, policy_config=config, now=far)
    return compare_rules(rows, risk_threshold)


@app.command("uplift-data")
def uplift_data(
    path: Path = typer.Argument(..., help="a rule file or a folder of *.yaml / *.yml files"),
    events: Path = typer.Option(..., "--events", help="event history: .jsonl or .parquet"),
    out: Path = typer.Option(..., "--out", help="uplift table to write (.parquet or .csv)"),
) -> None:
    """Uplift training rows from a backtest: engage/holdout decisions, features, goal reached in the window."""
    from infra.settings import Settings
    from models.uplift_data import check_uplift_out, serving_feature_names, write_uplift_table
    from triggers.backtest_cli import raw_events
    from triggers.policy import PolicyConfig
    from triggers.uplift_data import backtest_uplift_rows

    ruleset = _rules_and_events(path, events)
    check_uplift_out(out)
    settings = Settings()
    names = serving_feature_names(settings)
    rows = backtest_uplift_rows(raw_events(events, progress=True), ruleset, names,
                                policy_config=PolicyConfig.from_settings(settings.policy))
    typer.echo(write_uplift_table(rows, out), err=True)
