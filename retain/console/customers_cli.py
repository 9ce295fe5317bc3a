"""``retain customers index-contacts``: index the stored profiles' addresses (keyed hash) for the console's search.

The projection indexes each profile as it arrives; this fills the index for profiles stored before
it existed (safe to run again: each customer's row is replaced).
"""

from __future__ import annotations

import datetime as dt

import typer

customers_app = typer.Typer(help="Customer profiles: the search index.", no_args_is_help=True)


@customers_app.command("index-contacts")
def index_contacts_command() -> None:
    """Store the keyed hash of every stored customer's e-mail address and phone number (never the address)."""
    from infra.database import make_engine, session_scope
    from infra.settings import Settings
    from outreach.consent.contact_points import contact_hash
    from retain.migrations import migrate
    from signals.service import index_all_contacts

    settings = Settings()
    key = settings.contact_hash_key.get_secret_value().encode()
    engine = make_engine(settings)
    try:
        migrate(engine)
        with session_scope(engine) as session:
            count = index_all_contacts(session=session, now=dt.datetime.now(dt.timezone.utc),
                                       hasher=lambda channel, address: contact_hash(key, channel, address))
            session.commit()
    finally:
        engine.dispose()
    typer.echo(f"indexed {count} contact points")
