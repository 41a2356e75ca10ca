"""A late event never moves a followed task back, except a real re-plan."""

from web.client.follow import is_older


def record(status: str, replanned_at: float | None = None) -> dict:
    explanation = {"policy": "greedy"}
    if replanned_at is not None:
        explanation["replanned_at"] = replanned_at
    return {"id": "a", "status": status, "explanation": explanation}


def test_an_earlier_status_arriving_late_is_older():
    assert is_older(record("placed"), record("running"))
    assert is_older(record("running"), record("completed"))
    assert not is_older(record("running"), record("placed"))
    assert not is_older(record("failed"), record("running"))


def test_a_replan_back_to_scheduled_is_newer():
    assert not is_older(record("scheduled", replanned_at=5.0), record("running"))
    # The same re-plan seen again after the task moved on is old news.
    assert is_older(record("scheduled", 5.0), record("placed", 5.0))


def test_nothing_moves_a_final_task():
    assert is_older(record("scheduled", replanned_at=9.0), record("failed"))
