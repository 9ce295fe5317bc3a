"""A webhook test world: the real app with the outreach routers on a migrated SQLite file, signing helpers."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from outreach.channels.sink import SinkChannel
from outreach.consent.publisher import InMemoryConsentPublisher
from outreach.consent.records import ConsentChangeRecord
from outreach.consent.service import consent_status
from outreach.outbox import service as outbox
from outreach.outbox.sender import Sender
from outreach.webhooks.routers import ROUTERS
from retain.api.app import create_app
from infra.settings import Settings
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, simple_compose, sqlite_engine

EMAIL, PHONE = "ada@example.com", "+4915112345678"
AUTH_TOKEN = "twilio-test-token"
PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(PRIVATE_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


class NoPublisher:
    async def publish(self, events):
        raise AssertionError("webhooks publish no events")

    async def check(self):
        return None


class World:
    """The app, its clock, the sink channels and what went to support."""

    def __init__(self, tmp_path):
        self.engine = sqlite_engine(tmp_path)
        add_customer(self.engine, "c1", email=EMAIL, phone=PHONE, sms_marketing=True)
        self.now = T0
        settings = Settings(
            data_dir=tmp_path, twilio_auth_token=SecretStr(AUTH_TOKEN), sendgrid_webhook_public_key=PUBLIC_KEY,
            sendgrid_marketing_asm_group_id=42, public_base_url="http://testserver", reputation_min_sends=20,
            unsubscribe_secret=SecretStr(CONFIG.unsubscribe_secret.decode()),
            contact_hash_key=SecretStr(CONFIG.contact_hash_key.decode()),
        )
        self.app = create_app(settings, publisher=NoPublisher(), engine=self.engine, routers=ROUTERS)
        self.app.state.clock = lambda: self.now
        self.published = InMemoryConsentPublisher()
        self.app.state.consent_publisher = self.published
        self.support: list[dict] = []

        async def handoff(packet):
            self.support.append(packet)

        self.app.state.support_handoff = handoff
        self.client = TestClient(self.app)
        self.sinks = {"email": SinkChannel("email"), "sms": SinkChannel("sms")}
        self.sender = Sender(self.engine, channels=self.sinks, compose=simple_compose, config=CONFIG,
                             rng=random.Random(0))
        self._episode = 0

    def send(self, customer_id="c1", **options):
        """Decide, enqueue and run the sender once; returns the outbox row."""
        self._episode += 1
        options.setdefault("episode", f"e{self._episode}")
        with Session(self.engine) as session:
            message_id = outbox.enqueue(session=session, decision=decision(customer_id, at=self.now, **options),
                                        now=self.now)
            session.commit()
        self.sender.run_once(self.now)
        with Session(self.engine) as session:
            return outbox.get_message(session=session, message_id=message_id)

    def twilio(self, path: str, form: dict, *, signature: str | None = None):
        url = f"http://testserver{path}"
        signature = signature if signature is not None else RequestValidator(AUTH_TOKEN).compute_signature(url, form)
        return self.client.post(path, content=urlencode(form), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})

    def sendgrid(self, events: list[dict] | str, *, signed_at: dt.datetime | None = None, key=PRIVATE_KEY,
                 tamper=False):
        """POST a correctly signed event batch (``events`` as a list, or as the exact JSON text to sign)."""
        payload = events if isinstance(events, str) else json.dumps(events)
        timestamp = str(int((signed_at or self.now).timestamp()))
        signature = base64.b64encode(key.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))).decode()
        body = payload.replace("delivered", "spamreport") if tamper else payload
        return self.client.post("/outreach/sendgrid/events", content=body, headers={
            "Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp})

    def status(self, channel: str, topic: str = "service", customer_id: str = "c1") -> str:
        with Session(self.engine) as session:
            return consent_status(session=session, customer_id=customer_id, channel=channel, topic=topic).value

    def close(self) -> None:
        """Stop the client and release the database file."""
        self.client.close()
        self.engine.dispose()

    def changes(self) -> list[ConsentChangeRecord]:
        with Session(self.engine) as session:
            return list(session.scalars(select(ConsentChangeRecord)))

