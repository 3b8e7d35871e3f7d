"""The JSON of classrooms, in and out (docs/CONTRACT.md, "Classrooms", names every field).

A room's state is what the teacher's page shows and the students' pages follow: the scenario
(the page's own sparse request, as its link holds it), the event, the notation, the comparison,
the lesson step, the open question and the example of a mini-batch shown. The server checks
its shape and size, never its meaning: each student's page asks the API for the scenario,
which validates it as it validates any request.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bptt_studio.engine.request.fields import MAX_EXAMPLES

# The page's registries (static/js/text/notation.js NOTATIONS, static/js/state/state.js COMPARES);
# tests/test_rooms_api.py reads both files and holds these equal.
NOTATIONS = ("goodfellow", "d2l", "coursera", "haykin")
COMPARES = ("cell", "loss_at", "truncation", "reduction", "bug", "depth")
Notation = Literal["goodfellow", "d2l", "coursera", "haykin"]
Compare = Literal["cell", "loss_at", "truncation", "reduction", "bug", "depth"]

# Identifiers a page makes: a lesson's id, a question's ("lesson/step"), a student's (random).
NAME = r"^[A-Za-z0-9][A-Za-z0-9_./-]*$"
STUDENT = r"^[A-Za-z0-9_-]+$"
MAX_OPTIONS = 12
# How deeply a scenario may nest: the page's deepest field (params, a matrix, a row) is 4 down.
MAX_SCENARIO_DEPTH = 8


def depth(value: Any) -> int:
    """How many levels of objects and arrays ``value`` holds (a number or a string: 0)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Lesson(Strict):
    id: str = Field(max_length=64, pattern=NAME, description="the guided lesson's id")
    step: int = Field(ge=1, le=1000, description="its step, 1-based")


class Poll(Strict):
    question: str = Field(max_length=80, pattern=NAME,
                          description='the open question, e.g. "recursion/6" (lesson/step)')
    options: int = Field(ge=2, le=MAX_OPTIONS, description="how many options it has")
    revealed: bool = Field(False, description="the teacher has revealed the answer: the "
                                              "students' pages show it, answers are closed")


class RoomState(Strict):
    """What the teacher's page shows; a PUT replaces the whole state."""

    scenario: dict[str, Any] = Field(
        default_factory=dict, description="the page's scenario: a sparse trace request (only "
                                          "what was set), plus the page's \"train\" (passes of "
                                          "training shown); each student's page asks the API")
    event: int = Field(0, ge=0, le=10_000_000, description="the event index on the timeline")
    notation: Notation = Field("goodfellow", description="the notation of the equations")
    compare: Compare | None = Field(None, description="set-ups side by side, or null")
    lesson: Lesson | None = Field(None, description="the open guided lesson's step, or null")
    poll: Poll | None = Field(None, description="the question the students answer, or null")
    example: int = Field(0, ge=0, le=MAX_EXAMPLES - 1,
                         description="the example of a mini-batch the views show, 0-based "
                                     "(0 for one sequence)")

    @field_validator("scenario")
    @classmethod
    def _shallow(cls, value: dict[str, Any]) -> dict[str, Any]:
        if depth(value) > MAX_SCENARIO_DEPTH:
            raise ValueError(f"the scenario nests more than {MAX_SCENARIO_DEPTH} levels deep")
        return value


class RoomCreated(BaseModel):
    room: str = Field(description="the room's code: 6 letters and digits, what students type")
    teacher_token: str = Field(description="the bearer token of PUT .../state; shown once, "
                                           "kept only as its hash")
    link: str = Field(description="the path of the students' page: /?room=<code>")
    expires_in_s: float = Field(description="the room closes after this many idle seconds")


class StateAccepted(BaseModel):
    room: str
    version: int = Field(description="the state's number in the room: 1, 2, 3, ... (the "
                                     "events' id)")


class Answer(Strict):
    question: str = Field(max_length=80, pattern=NAME, description="the open question")
    option: int = Field(ge=0, lt=MAX_OPTIONS, description="the chosen option, 0-based")
    student: str = Field(min_length=8, max_length=64, pattern=STUDENT,
                         description="a random id the student's page makes for this room: it "
                                     "counts one answer per student, and names nobody")


class AnswerAccepted(BaseModel):
    room: str
    question: str
    option: int
    answers_left: int = Field(description="how many more times this student may change the "
                                          "answer")


# The events of GET .../events, each a JSON object on the event's data line.

class StateEvent(BaseModel):
    """``event: state`` (with ``id:`` its version): the room's state, to every page."""

    room: str
    version: int
    state: RoomState


class TallyEvent(BaseModel):
    """``event: tally``: the open question's answers so far, to the teacher's stream only."""

    room: str
    question: str | None = Field(description="the open question, null when none is open")
    counts: list[int] = Field(description="students whose last answer is each option")
    answered: int = Field(description="students who answered")
    members: int = Field(description="students' pages following the room now")


class EndEvent(BaseModel):
    """``event: end``: the room is closed (``"ended"`` by its teacher, or ``"expired"``)."""

    room: str
    reason: Literal["ended", "expired"]


ROOM_CODE = re.compile(r"^[A-Z0-9]{6}$")
