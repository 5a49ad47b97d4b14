"""Thin gRPC adapters: translate, validate, call the engine, stream progress."""
