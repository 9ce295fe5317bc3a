"""SendGrid Inbound Parse fields to one reply: the recorded payload, quoting styles, raw MIME, auto-replies."""

from __future__ import annotations

from email.parser import BytesParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.conversations.inbound_email import InvalidInboundEmail, new_part, parse_inbound
from tests.recorded_payloads import sendgrid_inbound


def form_fields(body: bytes, content_type: str) -> tuple[dict[str, str], list[dict]]:
    """The multipart body split the way a form parser splits it (text fields, and notes of the files)."""
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields, files = {}, []
    for part in message.get_payload():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename:
            files.append({"field": name, "name": filename, "type": part.get_content_type(), "size": len(payload)})
        else:
            fields[name] = payload.decode("utf-8").removesuffix("\r\n").replace("\r\n", "\n")
    return fields, files


def test_the_recorded_payload():
    body, content_type = sendgrid_inbound(to="reply+abc@reply.example.com", sender="ada@example.com",
                                          text="Where is my parcel now?", message_id="<m1@mail.gmail.com>",
                                          in_reply_to="<retain.0123456789abcdef0123456789abcdef@example.com>")
    reply = parse_inbound(*form_fields(body, content_type))
    assert reply.sender == "ada@example.com" and reply.recipients == ("reply+abc@reply.example.com",)
    assert reply.text == "Where is my parcel now?"  # the quoted history is cut
    assert reply.subject == "Re: Your order O-1007 is running late"
    assert reply.message_id == "<m1@mail.gmail.com>" and "retain.0123" in reply.in_reply_to
    assert [a["name"] for a in reply.attachments] == ["parcel.jpg", "receipt.docx"]
    assert not reply.auto_reply and not reply.truncated
    assert reply.dedup_key() == "sendgrid:inbound:m1@mail.gmail.com"
    assert "ada@example.com" not in repr(reply)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Where is it?\n\nOn Sun, 22 Nov 2026 at 13:00, retain <n@example.com> wrote:\n> Hi Ada", "Where is it?"),
        ("Wo ist es?\n\nAm 22.11.2026 um 13:00 schrieb retain <n@example.com>:\n> Hallo", "Wo ist es?"),
        ("Où est-il ?\n\nLe dim. 22 nov. 2026 à 13:00, retain a écrit :\n> Bonjour", "Où est-il ?"),
        ("¿Dónde está?\n\nEl dom, 22 nov 2026 a las 13:00, retain escribió:\n> Hola", "¿Dónde está?"),
        ("Cancel it.\n\n-----Original Message-----\nFrom: retain", "Cancel it."),
        ("Thanks!\n________________________________\nFrom: retain\nSent: Sunday", "Thanks!"),
        ("Cancel it.\nFrom: retain <n@example.com>\nSent: Sunday, November 22", "Cancel it."),
        ("> quoted only first\nmy answer", "my answer"),
        ("> everything quoted", "> everything quoted"),  # nothing new: keep it all rather than nothing
        ("Plain reply, no history", "Plain reply, no history"),
    ],
)
def test_only_the_new_part_is_kept(text, kept):
    assert new_part(text) == kept


def test_html_only_and_raw_mime():
    html = parse_inbound({"from": "Ada <ada@example.com>", "html": "<p>Where is <b>it</b>?</p><br>Ada"})
    assert html.text.split() == ["Where", "is", "it", "?", "Ada"]
    raw = ("From: Ada <ada@example.com>\nTo: reply+x@reply.example.com\nSubject: Re: late\nMessage-ID: <r1@x>\n"
           "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
           "Still nothing here.\n\nOn Sun, retain wrote:\n> hi\n--b\nContent-Type: application/pdf\n"
           "Content-Disposition: attachment; filename=\"x.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n")
    reply = parse_inbound({"email": raw, "envelope": '{"to": ["reply+x@reply.example.com"], "from": "ada@example.com"}'})
    assert (reply.text, reply.subject, reply.message_id) == ("Still nothing here.", "Re: late", "<r1@x>")
    assert reply.attachments == ({"name": "x.pdf", "type": "application/pdf", "size": 5},)


@pytest.mark.parametrize(
    "fields",
    [
        {"headers": "Auto-Submitted: auto-replied\n"},
        {"headers": "Precedence: bulk\n"},
        {"headers": "X-Autoreply: yes\n"},
        {"subject": "Out of Office: back on Monday"},
        {"subject": "Automatische Antwort: Urlaub"},
    ],
)
def test_auto_replies_are_recognised(fields):
    assert parse_inbound({"from": "ada@example.com", "text": "I am away", **fields}).auto_reply


def test_a_post_without_a_sender_is_invalid():
    with pytest.raises(InvalidInboundEmail, match="from"):
        parse_inbound({"text": "hi", "envelope": "not json"})


@pytest.mark.parametrize("envelope", ["1", "[1]", '"ada@example.com"', "true", "null", "{", '{"from": 7}'])
def test_an_envelope_that_is_not_an_object_is_no_sender(envelope):
    # Found by the property test below: "envelope": "1" crashed the parser (a 500 at the webhook).
    with pytest.raises(InvalidInboundEmail):
        parse_inbound({"from": "", "envelope": envelope})
    assert parse_inbound({"from": "ada@example.com", "envelope": envelope}).sender == "ada@example.com"


def test_long_replies_are_truncated_and_say_so():
    reply = parse_inbound({"from": "ada@example.com", "text": "x" * 30_000})
    assert len(reply.text) == 20_000 and reply.truncated


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["from", "to", "cc", "subject", "text", "html", "headers", "envelope",
                                        "attachment-info", "email"]), st.text(max_size=300), max_size=8))
def test_any_fields_give_a_reply_or_a_clear_refusal(fields):
    try:
        reply = parse_inbound(fields)
    except InvalidInboundEmail:
        return
    assert "@" in reply.sender and len(reply.text) <= 20_000
