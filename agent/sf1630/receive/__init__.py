"""Receiving: list IN/, download data and metadata, load into sinks, watch for missing extracts."""
