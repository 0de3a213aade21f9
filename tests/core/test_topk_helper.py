"""The tie-safe top-k comparison itself: it accepts reordered ties and rejects real differences."""
import pytest

from ..topk import assert_same_topk

WANT_IDS = [[7, 3, 9, 4]]
WANT_S = [[0.9, 0.8, 0.8, 0.5]]


@pytest.mark.parametrize("ids, scores", [
    ([[7, 3, 9]], [[0.9, 0.8, 0.8]]),          # identical
    ([[7, 9, 3]], [[0.9, 0.8, 0.8]]),          # a tie in another order
])
def test_accepts(ids, scores):
    assert_same_topk(ids, scores, WANT_IDS, WANT_S)


@pytest.mark.parametrize("ids, scores, problem", [
    ([[3, 7, 9]], [[0.9, 0.8, 0.8]], "places 0..0"),                   # not tied, swapped
    ([[7, 3, 9]], [[0.9, 0.8, 0.7]], "scores differ"),
    ([[7, 3, 1]], [[0.9, 0.8, 0.8]], "places 1..2"),                   # a stranger inside the top-k
])
def test_rejects(ids, scores, problem):
    with pytest.raises(AssertionError, match=problem):
        assert_same_topk(ids, scores, WANT_IDS, WANT_S)


def test_a_tie_across_the_cut_takes_any_tied_id_and_only_those():
    assert_same_topk([[7, 9]], [[0.9, 0.8]], WANT_IDS, WANT_S)   # 3 and 9 tie for place 1
    with pytest.raises(AssertionError, match="are not tied"):
        assert_same_topk([[7, 4]], [[0.9, 0.8]], WANT_IDS, [[0.9, 0.8, 0.8, 0.0]])
