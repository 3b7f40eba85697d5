"""Stable pseudonyms for reports that travel by mail (DOMAIN: personal data in reports).

Account names and owners (often e-mail addresses) are replaced; account ids are kept so a
reader with access to the CRM can still look an account up. A pseudonym is a salted hash:
the same account or owner gets the same pseudonym in every report made with the same
config (the salt is the config hash), and it cannot be reversed without guessing inputs.
"""

from __future__ import annotations

import hashlib


class Pseudonyms:
    def __init__(self, salt: str):
        self.salt = salt

    def _digest(self, kind: str, value: str) -> str:
        return hashlib.sha256(f"{self.salt}\x00{kind}\x00{value}".encode()).hexdigest()

    def account(self, account_id: str) -> str:
        return f"Account {self._digest('account', account_id)[:6]}"

    def owner(self, owner: str) -> str:
        return f"CSM {self._digest('owner', owner)[:6]}"
