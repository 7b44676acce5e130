"""Bundled manifests: one ``NAME.json`` per published model, plus ``schema.json``."""
