"""conf/assessment.yml: the weights add up to 1, every indicator is declared and no other, the
scoring bands and the use rules are sound; each fault is a clear error naming the file."""

import pytest

from citylake.settings import ConfigError
from jobs.assess.settings import INDICATORS, load_assessment


def test_the_declared_assessment_loads_with_weights_adding_up_to_one():
    assessment = load_assessment()
    assert list(assessment.indicators.weights) == list(INDICATORS)
    assert sum(assessment.indicators.weights.values()) == pytest.approx(1)
    assert "dsj" in assessment.use.not_counted and "delivery" in assessment.use.lineage_kinds


def test_weights_that_do_not_add_up_to_one_are_refused_not_normalised(edited_conf):
    conf = edited_conf("assessment.yml", lambda raw: raw["indicators"]["use"].update(weight=0.15))
    with pytest.raises(ConfigError, match=r"assessment.yml: indicators: .*the weights add up to 0.95, not 1 "
                                          r"\(delivery 0.25 \+ timeliness 0.25 \+ quality 0.2 \+ corrections 0.1 "
                                          r"\+ use 0.15\)"):
        load_assessment(conf)


def test_an_unknown_indicator_is_named_with_the_known_ones(edited_conf):
    conf = edited_conf("assessment.yml", lambda raw: raw["indicators"].update(popularity={"weight": 0}))
    with pytest.raises(ConfigError, match="unknown indicator.s. popularity; the indicators are delivery, timeliness, "
                                          "quality, corrections, use"):
        load_assessment(conf)


@pytest.mark.parametrize("edit, message", [
    (lambda raw: raw["indicators"].pop("quality"),
     r"indicator.s. quality not declared \(give weight 0 to leave one out\)"),
    (lambda raw: raw["indicators"]["delivery"].update(weight=-0.25),
     "indicators.delivery.weight: Input should be greater than or equal to 0"),
    (lambda raw: raw["indicators"]["corrections"].update(zero_days=2),
     r"indicators.corrections: .*zero_days \(2.0\) must be more than full_marks_days \(3.0\)"),
    (lambda raw: raw["use"]["lineage_kinds"].append("gossip"), "unknown lineage kind.s. gossip; the kinds are delivery"),
    (lambda raw: raw["use"]["not_counted"].append("mars"),
     r"use.not_counted: unknown consumer.s. mars \(known: 350502, .*dsj"),
], ids=["missing indicator", "negative weight", "band", "lineage kind", "consumer"])
def test_each_fault_is_named(edited_conf, edit, message):
    with pytest.raises(ConfigError, match=message):
        load_assessment(edited_conf("assessment.yml", edit))
