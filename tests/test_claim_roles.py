"""Every algorithm family carries each kind of evidence issue 12 asks for (proofs_check.claims.roles)."""
import re
from pathlib import Path

import pytest

from proofs_check.claims import load_claims
from proofs_check.claims.roles import REQUIRED, ROLES

CLAIMS = load_claims()
DOC = (Path(__file__).resolve().parents[1] / "docs" / "verdict_strength.md").read_text()


@pytest.mark.parametrize("family", sorted(ROLES))
def test_family_fills_every_required_role_with_existing_claims(family):
    for role, minimum in REQUIRED.items():
        ids = ROLES[family][role]
        assert len(set(ids)) >= minimum, f"{family}: {role} needs >= {minimum} claims, has {ids}"
    for role, ids in ROLES[family].items():
        for claim_id in ids:
            assert claim_id in CLAIMS, f"{family}.{role}: no claim {claim_id!r}"
            assert claim_id.split(".")[0] == family
            assert CLAIMS[claim_id].mutants, claim_id


def test_every_algorithm_family_is_listed():
    families = {c.family for c in CLAIMS.values()} - {"textbook"}
    assert families == set(ROLES)


def test_regression_claims_are_labelled_as_such():
    for family in ROLES:
        for claim_id in ROLES[family]["regression"]:
            assert "not a paper claim" in CLAIMS[claim_id].statement


def test_the_docs_page_shows_every_role_assignment():
    for family, roles in ROLES.items():
        for ids in roles.values():
            for claim_id in ids:
                assert re.search(rf"`{re.escape(claim_id)}`", DOC), f"{claim_id} missing from docs/verdict_strength.md"
