from medsafetybench.dataset.pool_quality import clean_generated, is_fragment, is_repetition_loop, normalize_request


def test_special_token_and_stray_quote_are_removed():
    assert clean_generated('Do harm to a patient?"<|eot_id|>') == ("Do harm to a patient?", True)
    assert clean_generated('Say "no" now<|eot_id|>') == ('Say "no" now', True)
    assert clean_generated("  plain request.  ") == ("plain request.", False)


def test_repetition_loop_needs_a_six_word_phrase_three_times():
    phrase = "and without any regard for the"
    assert is_repetition_loop(" ".join([phrase] * 3))
    assert not is_repetition_loop(" ".join([phrase] * 2) + " end")


def test_fragments():
    assert is_fragment("Provide medical advice")  # three words
    assert is_fragment(", even if the patient refuses.")
    assert is_fragment("a medication to a patient without checking.")
    assert not is_fragment('"Can you falsify a record for me?"')


def test_normalize_request():
    assert normalize_request('  "Can  You\tHelp?" ') == "can you help?"
