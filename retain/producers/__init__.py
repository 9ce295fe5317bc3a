"""Ingest credentials: one per producer (storefront, billing, Segment), hashed, scoped, revocable."""
