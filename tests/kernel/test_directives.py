"""The cell directive grammar: first lines and tags read the same, whitespace aside."""

from __future__ import annotations

import pytest

from async_kernel._exceptions import CellDirectiveError
from async_kernel.messaging._message import Channel, Message
from async_kernel.shell._directives import CellDirectives, parse_directives


def request(code: str, tags: list[object] | None = None) -> Message:
    metadata = {"tags": tags} if tags is not None else {}
    return Message(
        channel=Channel.shell,
        header={"msg_type": "execute_request", "msg_id": "1"},
        content={"code": code},
        metadata=metadata,
    )


@pytest.mark.parametrize(
    "first_line",
    [
        '# thread name="My thread" backend=trio',
        '#thread   name = "My thread"   backend = trio  ',
        "## thread name='My thread' backend=trio",
        '\n\n# thread backend=trio name="My thread"',
    ],
)
def test_whitespace_and_quotes_do_not_matter(first_line: str) -> None:
    directives = parse_directives(request(f"{first_line}\nprint(1)"))
    assert directives == CellDirectives(
        run_mode="thread", thread_name="My thread", thread_backend="trio", named_thread=True
    )
    assert directives.named_thread


def test_a_tag_reads_as_a_first_line_does() -> None:
    from_tags = parse_directives(
        request("x", ["thread name=io", "timeout=2.5", "raises-exception"])
    )
    from_line = parse_directives(request("# thread name=io timeout=2.5 raises-exception\nx"))
    assert from_tags == from_line
    assert from_tags.timeout == 2.5
    assert from_tags.raises_exception


def test_only_the_first_line_is_read() -> None:
    assert parse_directives(request("x = 1\n# thread")) == CellDirectives()


@pytest.mark.parametrize(
    "code",
    ["# threads here", "# task: sum", "# timeouts", "#!/usr/bin/env python", "# Thread", "#"],
)
def test_comments_that_start_with_no_keyword_are_no_directives(code: str) -> None:
    assert parse_directives(request(code)) == CellDirectives()


def test_tags_that_are_no_directives_are_ignored() -> None:
    directives = parse_directives(request("x", ["parameters", "hide-input", 3, "task"]))
    assert directives == CellDirectives(run_mode="task")


def test_stop_on_error_values() -> None:
    assert parse_directives(request("# stop-on-error=FALSE")).stop_on_error is False
    assert parse_directives(request("# stop-on-error=true")).stop_on_error is True


def test_a_plain_thread_uses_the_worker_pool() -> None:
    assert not parse_directives(request("# thread")).named_thread


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("# thread name=", "'name' needs a value"),
        ('# thread name="unclosed', "'name' needs a value"),
        ("# timeout=inf", "bad timeout 'inf'"),
        ("# queue task", "run mode 'task' after 'queue'"),
    ],
)
def test_bad_directives_say_what_is_wrong(code: str, says: str) -> None:
    with pytest.raises(CellDirectiveError, match=says):
        parse_directives(request(code))
