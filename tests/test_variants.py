"""The classifier variants of the paper's ablation: which features each one sees.

The expectations come from the schema's own feature lists (user features, text-model features,
``is_anonymous``, the meta columns), never from ``variant_features`` itself, so a variant that gains
or loses a kind of feature fails here.
"""

from __future__ import annotations

import pytest

from kitrain.schema import (
    ACTION_FEATURES,
    FEATURE_META_COLUMNS,
    IS_ANONYMOUS,
    LABEL,
    MLM_FEATURES,
    TAG_FEATURES,
    TITLE_FEATURES,
    USER_FEATURES,
    USER_GROUP_FLAGS,
    VARIANTS,
    is_anonymous_variant,
    variant_features,
    variant_parts,
)

#: population x feature set, spelled out: the eight variants of the ablation.
EXPECTED_VARIANTS = {
    "all+base", "all+mlm", "all+user", "all+user+mlm",
    "anon+base", "anon+mlm", "anon+user", "anon+user+mlm",
}
#: Edit metadata every variant sees (the paper's base set).
EDIT_FEATURES = ("wiki_db", "revision_text_bytes_diff", *TAG_FEATURES, *ACTION_FEATURES)
#: Which kinds of features each feature set has: (user features, text-model features).
KINDS = {"base": (False, False), "mlm": (False, True), "user": (True, False), "user+mlm": (True, True)}


def test_the_eight_variants_and_no_others():
    assert set(VARIANTS) == EXPECTED_VARIANTS and len(VARIANTS) == len(EXPECTED_VARIANTS)
    assert {v for v in VARIANTS if is_anonymous_variant(v)} == {v for v in EXPECTED_VARIANTS
                                                                 if v.startswith("anon+")}
    with pytest.raises(ValueError, match="unknown variant"):
        variant_features("anon+everything")


@pytest.mark.parametrize("variant", sorted(EXPECTED_VARIANTS))
def test_each_variant_sees_only_its_kinds_of_features(variant):
    population, feature_set = variant.split("+", 1)
    assert variant_parts(variant) == (population, feature_set)
    with_user, with_mlm = KINDS[feature_set]
    features = variant_features(variant)
    assert len(features) == len(set(features)), "a feature listed twice"
    # every variant has the whole edit metadata and action counts
    assert set(EDIT_FEATURES) <= set(features)
    # the text-model features: all of them (the three text models and the title's) or none
    seen_mlm = set(features) & set(MLM_FEATURES)
    assert seen_mlm == (set(MLM_FEATURES) if with_mlm else set())
    assert (set(TITLE_FEATURES) <= set(features)) == with_mlm
    # the user-group flags: all or none
    seen_groups = set(features) & set(USER_GROUP_FLAGS)
    assert seen_groups == (set(USER_GROUP_FLAGS) if with_user else set())
    # nothing else: no label, no meta column, no feature of another kind
    expected = set(EDIT_FEATURES) | seen_mlm | seen_groups | (
        {IS_ANONYMOUS} if with_user and population == "all" else set())
    assert set(features) == expected
    assert LABEL not in features and not set(FEATURE_META_COLUMNS) & set(features)


@pytest.mark.parametrize("variant", sorted(v for v in EXPECTED_VARIANTS if v.startswith("anon+")))
def test_anonymous_variants_never_see_is_anonymous(variant):
    # their rows are all anonymous editors: the flag is a constant that says nothing
    assert IS_ANONYMOUS not in variant_features(variant)


def test_all_editor_variants_see_is_anonymous_exactly_with_the_user_features():
    for variant in sorted(v for v in EXPECTED_VARIANTS if v.startswith("all+")):
        with_user = KINDS[variant.split("+", 1)[1]][0]
        assert (IS_ANONYMOUS in variant_features(variant)) == with_user, variant
        if with_user:
            assert set(USER_FEATURES) <= set(variant_features(variant))


def test_the_feature_sets_nest():
    # base < mlm, user < user+mlm, for both populations: an ablation adds, it never swaps
    for population in ("all", "anon"):
        f = {s: set(variant_features(f"{population}+{s}")) for s in KINDS}
        assert f["base"] < f["mlm"] < f["user+mlm"] and f["base"] < f["user"] < f["user+mlm"]
        assert f["user+mlm"] == f["mlm"] | f["user"]
