import math

import numpy as np
import pandas as pd
import pytest

from seqlib.verdicts import range_call


def test_a_lead_needs_every_seed_of_one_model_beyond_every_seed_of_the_other():
    assert range_call([0.9, 0.95, 0.99], [0.5, 0.8, 0.89]) == "a"
    assert range_call([0.5, 0.8, 0.89], [0.9, 0.95, 0.99]) == "b"
    # medians far apart, ranges overlapping by one seed: a tie
    assert range_call([0.2, 0.9, 0.95, 0.96, 0.97], [0.5, 0.5, 0.5, 0.5, 0.6]) == "tie"
    assert range_call([0.7, 0.8], [0.6, 0.7]) == "tie"  # equal extremes are a tie


def test_lower_is_better_turns_the_rule_around():
    assert range_call([1.1, 1.2], [1.5, 1.6], higher_is_better=False) == "a"
    assert range_call([1.1, 1.2], [1.5, 1.6]) == "b"


def test_it_reads_arrays_and_series():
    assert range_call(np.array([3.0, 4.0]), pd.Series([1.0, 2.0])) == "a"


@pytest.mark.parametrize("bad, error", [([], ValueError), ([0.5, math.nan], ValueError), ([0.5, math.inf], ValueError),
                                        ("abc", TypeError), (None, TypeError)])
def test_bad_scores_are_rejected_with_a_message(bad, error):
    with pytest.raises(error, match="a must"):
        range_call(bad, [0.5])
