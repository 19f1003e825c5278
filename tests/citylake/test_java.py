import pytest

from citylake.java import JavaNotFound, find_jdk


def test_finds_a_jdk_for_trino_and_one_for_spark():
    assert find_jdk("Trino", majors=range(24, 100)).major >= 24
    assert 17 <= find_jdk("Spark", majors=range(17, 22)).major <= 21


def test_no_suitable_jdk_is_a_clear_error():
    with pytest.raises(JavaNotFound, match="needs Java 90 to 98"):
        find_jdk("A future engine", majors=range(90, 99))
