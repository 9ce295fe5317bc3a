"""``POST /api/rules/preview``: an edited rule's policy outcome now and each channel's message, for one customer.

Nothing is sent or stored (see ``retain.console.rule_preview``). The rule is the YAML the editor
holds, valid or the answer is 422 with line-numbered errors; the customer is a stored one
(``customer_id``) or a sample persona (``sample``, the default when neither is given).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import Field
from sqlmodel import Session

from retain.console import rule_actions
from retain.console.api import RuleText, rules_or_503
from retain.console.auth import Principal, db, require, request_now
from retain.console.preview_samples import SAMPLE_CUSTOMERS
from retain.console.rule_editing import validate_rule_text
from retain.console.rule_preview import PreviewRefused, preview

router = APIRouter(prefix="/api", tags=["console"])
Sample = Literal[tuple(SAMPLE_CUSTOMERS)]  # type: ignore[valid-type]


class PreviewRequest(RuleText):
    """A rule (YAML) and who to preview it for."""

    customer_id: str | None = Field(default=None, min_length=1, max_length=128,
                                    description="a stored customer (wins over ``sample``)")
    sample: Sample | None = Field(default=None, description="a sample customer, when no ``customer_id`` is given")
    risk_bucket: Literal["low", "medium", "high"] = Field(
        default="high", description="the risk to assume when no stored decision scored the signal")


@router.post("/rules/preview", responses={
    404: {"description": "no stored customer with that id"},
    422: {"description": "the rule is invalid: ``detail = [{line, field, message}]``"}})
def post_rule_preview(body: PreviewRequest, request: Request, session: Session = Depends(db),
                      _: Principal = Depends(require("rules"))) -> dict[str, Any]:
    """What the rule would do for this customer now (``outcome``, ``decision``) and the exact message per channel."""
    rule, errors = validate_rule_text(body.yaml)
    if rule is None:
        raise HTTPException(422, errors)
    settings = request.app.state.settings
    ruleset = rules_or_503(rule_actions.load, settings)
    try:
        return preview(session=session, settings=settings, ruleset=ruleset, rule=rule, now=request_now(request),
                       customer_id=body.customer_id, sample=body.sample or (None if body.customer_id else
                                                                             next(iter(SAMPLE_CUSTOMERS))),
                       risk_bucket=body.risk_bucket)
    except PreviewRefused as exc:
        raise HTTPException(404, str(exc)) from None
