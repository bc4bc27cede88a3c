"""Lanterne: an extranet for French condominium management."""
