"""Paired differences over seeds against values worked out by hand."""
import pytest

from apc_lab.paired import confidence_for, difference_text, paired_difference


def test_a_three_seed_difference_and_its_95_percent_interval():
    # d = 2, 1, 5: mean 8/3; sample sd sqrt(((2-8/3)^2 + (1-8/3)^2 + (5-8/3)^2) / 2)
    # = sqrt(13/3) = 2.081666; t(0.975, 2 df) = 4.302653 (tables);
    # half width 4.302653 * sqrt(13/3) / sqrt(3) = 5.171145 (float64)
    diff = paired_difference([70, 72, 75], [68, 71, 70])
    assert diff['n'] == 3 and diff['mean'] == pytest.approx(2.666667, abs=1e-6)
    assert diff['sd'] == pytest.approx(2.081666, abs=1e-6)
    assert diff['low'] == pytest.approx(2.666667 - 5.171145, abs=1e-5)
    assert diff['high'] == pytest.approx(2.666667 + 5.171145, abs=1e-5)
    assert diff['verdict'] == 'not shown'  # the interval holds 0
    assert difference_text(diff) == '+2.7 [-2.5, +7.8] not shown'


def test_verdicts_need_an_interval_that_excludes_zero():
    # d = 3, 4, 5, 4: mean 4, sd sqrt(2/3) = 0.816497, t(0.975, 3) = 3.182446,
    # half width 3.182446 * 0.816497 / 2 = 1.299228: [2.70, 5.30]
    diff = paired_difference([13, 14, 15, 14], [10, 10, 10, 10])
    assert (diff['low'], diff['high']) == (pytest.approx(2.700772, abs=1e-5),
                                           pytest.approx(5.299228, abs=1e-5))
    assert diff['verdict'] == 'higher'
    assert paired_difference([10] * 4, [13, 14, 15, 14])['verdict'] == 'lower'
    # unpaired spreads would overlap here, the pairs do not: each seed is +1
    assert paired_difference([50, 60, 70], [49, 59, 69.5])['verdict'] == 'higher'


def test_bonferroni_widens_each_interval_of_a_table():
    assert confidence_for(1) == 0.95 and confidence_for(10) == pytest.approx(0.995)
    # d = 3, 4, 5, 4 at 99.5 %: t(0.9975, 3) = 7.453319, half width 3.042805
    wide = paired_difference([13, 14, 15, 14], [10, 10, 10, 10], confidence_for(10))
    assert wide['low'] == pytest.approx(4 - 3.042805, abs=1e-4)


def test_runs_that_do_not_pair_are_refused_and_one_pair_has_no_interval():
    with pytest.raises(ValueError, match='must pair'):
        paired_difference([1, 2], [1])
    one = paired_difference([3], [1])
    assert one['mean'] == 2 and one['low'] is None and one['verdict'] == 'not shown'
