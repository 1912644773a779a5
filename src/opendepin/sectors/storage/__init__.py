"""The storage sector: providers keep erasure-coded pieces, answer audits, and are paid (docs/storage.md)."""
