"""How personal numbers are shown to users who may not unmask them (DOMAIN.md, PIPL)."""

from __future__ import annotations


def mask_mobile(value: str) -> str:
    """``13812341234`` → ``138****1234``."""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_card(value: str) -> str:
    """First 6 and last 4 digits stay: ``622202******1234``."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_id(value: str) -> str:
    """First 3 and last 4 stay: ``110***********1234``."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """Family name stays: ``李**``."""
    return value[:1] + "*" * (len(value) - 1) if value else value
