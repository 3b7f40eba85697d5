"""Readers of exports: CSV/TSV, JSON/JSONL/NDJSON, Parquet, zips of them (DESIGN 2, 6.2)."""
