"""``retain triage``: build the reply classifier ahead of time, and compare triagers on the labelled set."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from infra.settings import Settings

app = typer.Typer(help="Triage of customers' replies.", no_args_is_help=True)


@app.command()
def build() -> None:
    """Train the built-in classifier on the generated corpus and keep it in the data dir."""
    from outreach.conversations.classifier import artifact_path, load_or_train

    settings = Settings()
    started = time.perf_counter()
    classifier = load_or_train(settings.data_dir)
    path = artifact_path(settings.data_dir, classifier.corpus_fingerprint)
    Console().print(f"triage classifier {classifier.corpus_fingerprint} ready in {time.perf_counter() - started:.1f} s: "
                    f"{path}")


@app.command()
def evaluate(
    llm: Annotated[bool, typer.Option(help="Also evaluate the configured LLM (OPENAI_BASE_URL / OPENAI_API_KEY)")] = False,
) -> None:
    """Accuracy per intent on the labelled set: keyword matching, the classifier (and the LLM path)."""
    from outreach.conversations.classifier import load_or_train
    from outreach.conversations.evaluation import accuracy_table, evaluate as run
    from outreach.conversations.keywords import KeywordTriage
    from outreach.conversations.llm_triage import build_triager

    settings = Settings()
    classifier = load_or_train(settings.data_dir)
    results = [run(KeywordTriage(), name="keyword matching"), run(classifier, name="classifier")]
    if llm:
        triager = build_triager(settings.conversations, classifier)
        if triager is classifier:
            raise typer.BadParameter("no LLM is configured (set OPENAI_BASE_URL or OPENAI_API_KEY)")
        results.append(run(triager, name="LLM path"))
    print(accuracy_table(results))
