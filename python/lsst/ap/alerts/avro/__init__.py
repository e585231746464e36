"""Avro: columnar encoding, container files and the assembly of one visit's alerts."""
