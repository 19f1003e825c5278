"""ID numbers and credit codes are valid and unique by construction, at any city size."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from stdnum.cn import ric, uscc

from citylake.catalog import load_catalog, load_divisions
from synthetic import identity
from synthetic.layout import N_CLASSES
from synthetic.model import CityModel
from synthetic.rng import Permutation
from synthetic.world import SyntheticCity


def test_permutations_are_bijections_both_ways():
    for size in (1, 2, 999, 12_345):
        permutation = Permutation(size, seed=1, stream="test")
        values = permutation.forward(np.arange(size))
        assert sorted(values.tolist()) == list(range(size))
        assert (permutation.inverse(values) == np.arange(size)).all()


def test_id_slots_give_valid_unique_numbers_across_districts_sharing_codes():
    ids = identity.IdNumbers(load_divisions(), date(2026, 1, 1), seed=9)
    numbers = []
    # 晋江 and 石狮 share the codes 352422 and 350522 of older residents; 鲤城, 丰泽, 洛江 share 352401
    for group in ("350582", "350581", "350502", "350503", "350504", "migrant"):
        for person_class in range(N_CLASSES):
            space = ids.space(group, person_class)
            k = np.arange(min(space.size, 20_000))
            code, birth, lane = space.slots(k)
            gender = np.full(k.size, person_class % 2)
            numbers += identity.resident_ids(code, birth, identity.sequence_numbers(lane, gender)).to_pylist()
    assert len(numbers) == len(set(numbers))
    sample = numbers[::50]
    assert all(ric.is_valid(n) for n in sample)
    # odd sequence numbers for men, even for women
    assert all(int(n[16]) % 2 == 1 for n in numbers[:100])


def test_legacy_ids_convert_back_to_the_true_number():
    number = "352422195306028482"
    legacy = identity.legacy_id(number)
    assert len(legacy) == 15
    body = legacy[:6] + "19" + legacy[6:]
    assert body + ric.calc_check_digit(body + "0") == number


def test_credit_codes_are_valid_unique_and_old_or_new_style():
    numbers = np.arange(5_000)
    new_style = numbers % 3 == 0
    codes = identity.usccs(np.full(numbers.size, 91), np.full(numbers.size, 350582),
                           identity.organisation_codes(numbers, new_style, seed=2)).to_pylist()
    assert len(set(codes)) == len(codes)
    assert all(uscc.is_valid(c) for c in codes)
    assert all(c[8:10] == "MA" for c, new in zip(codes, new_style) if new)


def test_a_wrong_check_character_fails_both_standards():
    for value, element in (("352422195306028482", "resident_id"), ("913505819882427972", "party_id"),
                           ("91350582MA4R77WR0W", "uscc")):
        wrong = identity.wrong_check(value, element)
        assert wrong[:-1] == value[:-1] and wrong != value
        assert not ric.is_valid(wrong) and not uscc.is_valid(wrong)


def test_a_shenzhen_sized_city_fits_the_id_number_space_and_a_far_larger_one_is_refused():
    # building the city's arithmetic checks every slot space against the persons it must number
    divisions, catalog = load_divisions(), load_catalog()
    city = SyntheticCity(catalog, divisions, 18_400_000, 365, 1, date(2026, 1, 1), CityModel())
    assert city.layout.buildings > 400_000 and city.population.births.total > 150_000
    with pytest.raises(ValueError, match="too large for its ID numbers"):
        SyntheticCity(catalog, divisions, 40_000_000, 30, 1, date(2026, 1, 1), CityModel())
