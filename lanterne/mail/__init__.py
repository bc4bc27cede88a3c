"""The mail pipeline: sources → raw store → parse → (thread → file → publish)."""
