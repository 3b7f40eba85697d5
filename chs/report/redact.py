"""Stable pseudonyms for reports that travel by mail (DOMAIN: personal data in reports).

Account names and owners (often e-mail addresses) are replaced; account ids are kept so a
reader with access to the CRM can still look an account up. The pseudonyms are those of
every other redacted output (chs/privacy.py): an HMAC keyed by the secret in
CHS_REDACT_SALT, so the same account or owner reads the same in the report, explain,
the actions lists and scores.csv, and cannot be reversed without the key.
"""

from __future__ import annotations

from chs.privacy import Redactor

# The report's sections call `account(id)` and `owner(owner)` on a few top-N rows each.
Pseudonyms = Redactor

__all__ = ["Pseudonyms"]
