"""The built-in triage classifier: scikit-learn, trained on the generated corpus, deterministic.

It is the default without an LLM and the LLM's fallback. Word (1-2) and character (2-5, within
word boundaries, so typos and German compounds still share pieces) TF-IDF features feed one
logistic-loss linear model per label: intent, sentiment, frustration and language. Training uses
only ``corpus.generate()`` (nothing is downloaded) and is deterministic (fixed seed, epochs and
data order), so the same corpus always gives the same classifier; it takes about a second.

It is trained when the service builds its triage part (``retain triage build`` does it ahead of
time): ``load_or_train`` keeps the fitted classifier under ``<data_dir>/triage/``, named by the
corpus fingerprint and the scikit-learn version, so a changed corpus or library retrains it and
an unchanged one loads in milliseconds. The file is written by this process into its owner-only
data dir and read back from there only.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import FeatureUnion
from threadpoolctl import threadpool_limits

from infra.private_files import open_private, private_dir
from outreach.conversations.corpus import LabelledReply, fingerprint, generate
from outreach.conversations.triage import LANGUAGES, Intent, Sentiment, Triage
from outreach.guardrails.language import detect_language

log = logging.getLogger(__name__)

NAME = "classifier"
CACHE_DIR = "triage"


def _features() -> FeatureUnion:
    return FeatureUnion([
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
    ])


def _head() -> SGDClassifier:
    # Logistic loss (probabilities for the confidence), a fixed seed and a fixed number of epochs: deterministic.
    return SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=50, tol=None, random_state=0)


@dataclass
class TriageClassifier:
    """The fitted features and one model per label."""

    features: FeatureUnion
    intent: SGDClassifier
    sentiment: SGDClassifier
    frustrated: SGDClassifier
    language: SGDClassifier
    corpus_fingerprint: str

    name = NAME

    @classmethod
    def train(cls, rows: list[LabelledReply] | None = None) -> "TriageClassifier":
        """Fit on ``rows`` (the generated corpus by default)."""
        rows = rows if rows is not None else generate()
        first: dict[str, LabelledReply] = {}
        for row in rows:
            first.setdefault(row.text, row)  # a text the generator made twice is learnt once
        unique = list(first.values())
        features = _features()
        # One BLAS thread: on a shared box the default thread pool makes fitting ten times slower, not faster.
        with threadpool_limits(limits=1):
            matrix = features.fit_transform([row.text for row in unique])
            heads = {label: _head().fit(matrix, [str(getattr(row, label)) for row in unique])
                     for label in ("intent", "sentiment", "frustrated", "language")}
        return cls(features=features, corpus_fingerprint=fingerprint(rows), **heads)

    def triage(self, text: str, *, locale: str | None = None) -> Triage:
        """The triage of one reply; ``locale`` decides the language when the text is too short to tell."""
        matrix = self.features.transform([text])
        intent_probabilities = self.intent.predict_proba(matrix)[0]
        best = int(intent_probabilities.argmax())
        frustrated = self.frustrated.predict(matrix)[0] == "True"
        sentiment = Sentiment.NEGATIVE if frustrated else Sentiment(self.sentiment.predict(matrix)[0])
        return Triage(Intent(self.intent.classes_[best]), sentiment, frustrated, self._language(text, matrix, locale),
                      NAME, confidence=round(float(intent_probabilities[best]), 3))

    def _language(self, text: str, matrix, locale: str | None) -> str:
        by_stop_words, _ = detect_language(text)
        if by_stop_words is not None:
            return by_stop_words
        probabilities = self.language.predict_proba(matrix)[0]
        best = int(probabilities.argmax())
        if probabilities[best] >= 0.6 or not locale:
            return str(self.language.classes_[best])
        guess = locale.replace("_", "-").split("-")[0].lower()  # too short to tell: the customer's locale
        return guess if guess in LANGUAGES else str(self.language.classes_[best])


def artifact_path(data_dir: Path, corpus_fingerprint: str) -> Path:
    """Where the classifier trained on a corpus is kept."""
    return Path(data_dir) / CACHE_DIR / f"classifier-{corpus_fingerprint}-sklearn{sklearn.__version__}.joblib"


_TRAINED: dict[str, TriageClassifier] = {}  # per process: one classifier per corpus


def load_or_train(data_dir: Path | None) -> TriageClassifier:
    """The classifier kept in ``data_dir`` for this corpus, else one trained now (and kept there)."""
    rows = generate()
    key = fingerprint(rows)
    path = artifact_path(data_dir, key) if data_dir is not None else None
    if path is not None and path.exists():
        try:
            return joblib.load(path)
        except Exception:  # noqa: BLE001 - a damaged file is retrained, never fatal
            log.warning("the stored triage classifier %s does not load; training it again", path.name)
    classifier = _TRAINED.get(key)
    if classifier is None:
        started = time.perf_counter()
        classifier = _TRAINED[key] = TriageClassifier.train(rows)
        log.info("triage classifier trained on %d generated replies in %.1f s", len(rows),
                 time.perf_counter() - started)
    if path is not None:
        private_dir(path.parent)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open_private(tmp, "wb") as handle:
            joblib.dump(classifier, handle)
        tmp.replace(path)  # atomic: a concurrent reader sees no file or the whole one
    return classifier
