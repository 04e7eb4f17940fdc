"""Nightly ingestion: one safe run of crawl → classify → dedup → index, and its records."""
