"""The private parts of matrix-nio readmark relies on, in one place.

nio 0.26 has no fallback-key support: its ``OlmAccount`` keeps the vodozemac account,
which has, in a private attribute. A nio upgrade that renames it makes
``tests/matrix/test_crypto.py``'s fallback-key test fail, not a user's login.
"""

from __future__ import annotations

from typing import Any


def vodozemac_account(olm: Any) -> Any:
    """The ``vodozemac.Account`` under a nio ``Olm`` machine's account."""
    return olm.account._account  # noqa: SLF001 - see the module docstring

