"""The LLM drafter: any OpenAI-compatible chat completions server through the official client.

Structured output (``response_format`` json_schema) gives subject/preheader/body for e-mail and
text for SMS. The client's timeout and retries are always explicit (its defaults are 600 s and 2).
Provider trouble never raises: a timeout or API error is returned as an ``unavailable`` result
(the caller falls back to the template), a refusal, a truncated answer (``finish_reason ==
"length"``) or unparseable JSON as a failed draft (the caller retries once).
"""

from __future__ import annotations

import json
import time
from typing import Callable

import openai

from infra.settings import LlmSettings
from outreach.drafting.brief import DraftRequest
from outreach.drafting.draft import Draft, DraftResult
from outreach.drafting.prompt import build_messages, redacted_prompt, response_format
from outreach.provider_timing import timed_provider_call

NAME = "llm"


def make_client(*, base_url: str | None, api_key: str | None, timeout: float, max_retries: int) -> openai.OpenAI:
    """An ``OpenAI`` client with an explicit timeout and retry count."""
    # Local OpenAI-compatible servers often need no key, but the client insists on one.
    return openai.OpenAI(base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=max_retries)


def llm_drafter_from_settings(settings: LlmSettings, *, sms_max_segments: int) -> "LLMDrafter | None":
    """The LLM drafter the settings configure, or None when no LLM is configured (use the template)."""
    if not settings.openai_base_url and settings.openai_api_key is None:
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key is not None else None
    client = make_client(
        base_url=settings.openai_base_url, api_key=key,
        timeout=settings.llm_timeout_seconds, max_retries=settings.llm_max_retries,
    )
    return LLMDrafter(client, model=settings.llm_model, sms_max_chars=sms_budget(sms_max_segments))


def sms_budget(max_segments: int) -> int:
    """Characters the model may use in an SMS: the segments minus room for sender and opt-out line."""
    return max(60, 153 * max_segments - 60) if max_segments > 1 else 100


def _parse(content: str | None, channel: str, language: str) -> Draft:
    data = json.loads(content or "")
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    if channel == "sms":
        text = data.get("text")
        if not isinstance(text, str):
            raise ValueError("missing string field 'text'")
        return Draft(body=text.strip(), language=language)
    parts = {key: data.get(key) for key in ("subject", "preheader", "body")}
    if not all(isinstance(value, str) for value in parts.values()):
        raise ValueError("subject, preheader and body must all be strings")
    return Draft(body=parts["body"].strip(), subject=parts["subject"].strip(), preheader=parts["preheader"].strip(),
                 language=language)


class LLMDrafter:
    """Drafts through ``client.chat.completions.create``; records prompt, model, tokens, latency."""

    name = NAME

    def __init__(self, client: openai.OpenAI, *, model: str, sms_max_chars: int = 240,
                 clock: Callable[[], float] = time.perf_counter):
        self.client = client
        self.model = model
        self.sms_max_chars = sms_max_chars
        self._clock = clock

    def draft(self, request: DraftRequest, *, problems: list[dict[str, str]] | None = None) -> DraftResult:
        """One chat completion; failures are returned, never raised."""
        messages = build_messages(request, sms_max_chars=self.sms_max_chars, problems=problems)
        prompt = redacted_prompt(messages, request.private)
        started = self._clock()
        try:
            with timed_provider_call(NAME):  # its own clock: self._clock keeps measuring latency_ms
                completion = self.client.chat.completions.create(
                    model=self.model, messages=messages, response_format=response_format(request.channel),
                )
        except openai.APITimeoutError:
            return DraftResult(self.name, model=self.model, prompt=prompt, failure="timeout",
                               detail="the LLM did not answer in time", latency_ms=(self._clock() - started) * 1000)
        except openai.APIError as exc:
            status = getattr(exc, "status_code", None)
            return DraftResult(self.name, model=self.model, prompt=prompt, failure="api_error",
                               detail=f"{type(exc).__name__} (status {status})",
                               latency_ms=(self._clock() - started) * 1000)
        latency = (self._clock() - started) * 1000
        choice, usage = completion.choices[0], completion.usage
        recorded = dict(
            model=completion.model or self.model, prompt=prompt, latency_ms=latency, finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )
        refusal = getattr(choice.message, "refusal", None)
        if refusal or choice.finish_reason == "content_filter":
            return DraftResult(self.name, **recorded, failure="refusal",
                               detail=f"the model refused: {refusal or 'content filter'}")
        if choice.finish_reason == "length":
            return DraftResult(self.name, **recorded, failure="length",
                               detail="the answer was cut off (finish_reason length)")
        try:
            draft = _parse(choice.message.content, request.channel, request.language)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            return DraftResult(self.name, **recorded, failure="invalid_output", detail=f"unusable answer: {exc}")
        return DraftResult(self.name, **recorded, draft=draft)
