"""The event-stream parser follows the text/event-stream rules."""

from web.client.events import EventParser, ServerEvent


def feed_all(lines: list[str]) -> list[ServerEvent]:
    parser = EventParser()
    return [event for line in lines if (event := parser.feed(line)) is not None]


def test_events_are_dispatched_on_a_blank_line_with_their_type_and_id():
    events = feed_all(
        [
            ": keep-alive",
            "",
            "id: 7",
            "event: task",
            'data: {"id": "a"}',
            "",
            "event: node-gone",
            'data:{"node_id": "e"}',
            "",
        ]
    )
    assert events == [
        ServerEvent("task", '{"id": "a"}', "7"),
        ServerEvent("node-gone", '{"node_id": "e"}', "7"),
    ]


def test_data_lines_join_and_an_event_without_data_is_dropped():
    events = feed_all(["event: lonely", "", "data: one", "data:  two", "retry: 5", ""])
    assert events == [ServerEvent("message", "one\n two")]
