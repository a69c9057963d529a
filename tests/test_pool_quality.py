"""Quality flags of the generated pool: each rule on invented lines, and the packaged precision labels."""

from __future__ import annotations

import random
import re

from medsafetybench.dataset.pool_quality import (
    FLAGS,
    FlagLabels,
    clean_generated,
    duplicate_of,
    flag_precision,
    has_annotation_tail,
    has_json_debris,
    is_commentary,
    is_fragment,
    is_repetition_loop,
    is_truncated,
    normalize_request,
    pinned_flag_labels,
    pool_flags,
)
from medsafetybench.dataset.records import GeneratedRequest


def test_special_token_and_stray_quote_are_removed():
    assert clean_generated('Do harm to a patient?"<|eot_id|>') == ("Do harm to a patient?", True)
    assert clean_generated('Say "no" now<|eot_id|>') == ('Say "no" now', True)
    assert clean_generated("  plain request.  ") == ("plain request.", False)


def test_repetition_loop_needs_a_six_word_phrase_three_times():
    phrase = "and without any regard for the"
    assert is_repetition_loop(" ".join([phrase] * 3))
    assert not is_repetition_loop(" ".join([phrase] * 2) + " end")
    # punctuation and case do not hide a loop
    assert is_repetition_loop(
        "Harm to the patient, and harm to the patient and HARM TO THE PATIENT, and harm to the patient."
    )


def test_a_term_repeated_three_times_is_not_a_loop():
    term = "invented device packaging and labeling control"  # six words, one function word
    text = f"Write a {term} plan without a {term} expert or current {term} guidelines."
    assert not is_repetition_loop(text)


def test_fragments():
    assert is_fragment("Provide medical advice")  # three words
    assert is_fragment(", even if the patient refuses.")
    assert is_fragment("a medication to a patient without checking.")
    assert not is_fragment('"Can you falsify a record for me?"')
    assert not is_fragment(". How can I skip the consent form?")  # stray leading dot, whole request
    assert not is_fragment("( Violates invented rule three)")  # commentary, not a fragment


def test_annotation_tail_and_commentary():
    assert has_annotation_tail('Skip the consent form." (Unethical)')
    assert has_annotation_tail('Skip the consent form." ( Violates principle of consent)')
    assert not has_annotation_tail("Skip the consent form (as the rules say).")  # no closing quote before it
    assert not has_annotation_tail("(Violates principle of choice)")  # a whole commentary line
    for line in ["(Violates principle of choice)", "( Violates principle of choice)", '. (Example: "Patient B")']:
        assert is_commentary(line)
    assert not is_commentary("Violate the rules (all of them).")


def test_truncated_and_json_debris():
    assert is_truncated("Behave badly towards families, such as")
    assert is_truncated("Disrupt care, including but not limited to")
    assert not is_truncated("Behave badly towards families, such as shouting.")
    assert has_json_debris('Records": "Recommend a strategy.')
    assert not has_json_debris('Say "records" and stop: now.')


def test_pool_flags_returns_every_flag_in_order():
    text, flags = pool_flags('Skip the consent form." (Unethical)<|eot_id|>')
    assert text == 'Skip the consent form." (Unethical)'
    assert list(flags) == list(FLAGS)
    assert {k for k, v in flags.items() if v} == {"has_special_token", "has_annotation_tail"}


def test_duplicate_of_points_at_the_first_occurrence():
    items = [("a", "Do X."), ("b", '"do  x."'), ("c", "Do Y."), ("d", "DO X.")]
    assert duplicate_of(items) == [None, "a", None, "a"]


def test_normalize_request():
    assert normalize_request('  "Can  You\tHelp?" ') == "can you help?"


def test_packaged_labels_are_ids_and_booleans_only():
    labels = pinned_flag_labels()
    assert set(labels.labels) == set(FLAGS) and set(labels.criteria) == set(FLAGS)
    for flag, sample in labels.labels.items():
        assert 0 < len(sample) <= labels.per_flag, flag
        assert all(re.fullmatch(r"pool-llama3-p[1-9]-\d{5}", i) for i in sample), flag
        assert all(isinstance(v, bool) for v in sample.values())


def _pool_row(i: int, **flags: bool) -> GeneratedRequest:
    return GeneratedRequest(
        id=f"pool-llama3-p1-{i:05d}",
        request="x y z w",
        raw_request="x y z w",
        principle=1,
        source="llama3",
        source_file="f",
        source_row=i,
        **{f: flags.get(f, False) for f in FLAGS},
        equals_benchmark_request=False,
        duplicate_of=None,
    )


def test_flag_precision_counts_only_labelled_ids_still_flagged():
    rows = [_pool_row(0, is_fragment=True), _pool_row(1, is_fragment=True), _pool_row(2)]
    labels = FlagLabels(
        description="",
        sample="",
        seed=0,
        per_flag=2,
        criteria={},
        labels={"is_fragment": {rows[0].id: True, rows[1].id: False, rows[2].id: True}},
    )
    fragment = next(p for p in flag_precision(rows, labels) if p.flag == "is_fragment")
    assert (fragment.flagged, fragment.labelled, fragment.correct, fragment.precision) == (2, 2, 1, 0.5)
    loop = next(p for p in flag_precision(rows, labels) if p.flag == "is_repetition_loop")
    assert (loop.flagged, loop.labelled, loop.precision) == (0, 0, None)


def test_labelled_sample_is_the_documented_random_draw(full_build):
    """Reproduce the sample from the full pool: the seed and size written in the labels file draw exactly these ids."""
    from medsafetybench import records

    labels = pinned_flag_labels()
    pool = list(records("generated_llama3", repo_id=full_build))
    for flag in FLAGS:
        flagged = sorted(r.id for r in pool if getattr(r, flag))
        k = labels.per_flag
        want = flagged if len(flagged) <= k else sorted(random.Random(f"{labels.seed}:{flag}").sample(flagged, k))
        assert sorted(labels.labels[flag]) == want, flag
