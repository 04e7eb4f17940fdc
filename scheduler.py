"""Nightly ingestion."""
