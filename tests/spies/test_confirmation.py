from spyagency.spies.confirmation import SecondReadings


def test_an_answer_is_confirmed_only_by_the_next_equal_reading() -> None:
    readings: SecondReadings[tuple[int, str], str] = SecondReadings(lambda key: key[0])
    key = (380000, "folder")
    assert not readings.agree(key, "garbled")
    assert not readings.agree(key, "true")  # differs: the count starts again
    assert readings.agree(key, "true")
    assert not readings.agree(key, "true")  # confirmed once: a later reading starts anew


def test_readings_of_runs_that_left_the_scope_are_forgotten() -> None:
    readings: SecondReadings[int, str] = SecondReadings(int)
    readings.agree(380000, "a")
    readings.agree(380001, "b")
    readings.keep_runs([380001])
    assert not readings.agree(380000, "a")
    assert readings.agree(380001, "b")
