from figa import label_edits


def test_insertion_marks_added_token():
    labels = label_edits([1, 2, 3], [1, 2, 9, 3])
    assert labels.original == ["keep", "keep", "keep"]
    assert labels.revised == ["keep", "keep", "add", "keep"]


def test_deletion_marks_deleted_token():
    labels = label_edits([1, 2, 7, 3], [1, 2, 3])
    assert labels.original == ["keep", "keep", "del", "keep"]
    assert labels.revised == ["keep", "keep", "keep"]


def test_substitution_marks_both_sides():
    labels = label_edits([1, 5, 3], [1, 6, 3])
    assert labels.original == ["keep", "sub", "keep"]
    assert labels.revised == ["keep", "sub", "keep"]


def test_identical_sequences_are_all_kept():
    labels = label_edits([4, 4, 2, 8], [4, 4, 2, 8])
    assert labels.original == ["keep"] * 4 and labels.revised == ["keep"] * 4


def test_empty_original_means_every_revised_token_was_added():
    labels = label_edits([], [3, 4])
    assert labels.original == [] and labels.revised == ["add", "add"]


def test_empty_revised_means_every_original_token_was_deleted():
    labels = label_edits([3, 4, 5], [])
    assert labels.original == ["del", "del", "del"] and labels.revised == []


def test_mixed_edits_have_one_label_per_token_and_minimal_cost():
    original, revised = [1, 2, 3, 4, 5, 6], [1, 9, 3, 5, 6, 7]
    labels = label_edits(original, revised)
    assert len(labels.original) == len(original) and len(labels.revised) == len(revised)
    # 2 -> 9 substituted, 4 deleted, 7 added: a minimal script of cost 3
    assert labels.original == ["keep", "sub", "keep", "del", "keep", "keep"]
    assert labels.revised == ["keep", "sub", "keep", "keep", "keep", "add"]
