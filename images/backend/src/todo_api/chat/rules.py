"""The ``rules`` provider: offline and deterministic, it understands the published phrasings.

"Add a task to buy groceries", "Show me all my tasks", "What's pending?", "Mark task 3 as
complete", "Delete the meeting task", "Change task 1 to 'Call mom tonight'", "I need to remember
to pay bills", "What have I completed?" - and "Mark it as complete" when the previous turn was
about exactly one task. Anything else gets a short guide to what it understands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from todo_api.chat import Turn
from todo_api.tools import MAX_TASK_ID, TaskTools, ToolError

HELP = (
    "I can manage your tasks. Try: \"Add a task to buy groceries\", \"Show me all my tasks\", "
    "\"What's pending?\", \"Mark task 3 as complete\", \"Change task 1 to 'Call mom tonight'\" "
    "or \"Delete the meeting task\"."
)

_I = re.IGNORECASE

# The longest message the agent reads: the API's own limit (schemas.ChatRequest.message). The
# agent is also reachable without that schema (tests, future callers), so it bounds the input
# itself: every pattern below is linear in the length, but only a bounded length keeps a turn
# to a bounded time.
MAX_MESSAGE_CHARS = 4000

# Regular-expression denial of service (security review, issue 16): patterns such as
# ``mark\s+(?P<ref>.+?)\s+…`` backtracked cubically over a run of whitespace, because three
# adjacent quantifiers (``\s+``, ``.+?``, ``\s+``) could each take any share of the same spaces;
# "mark" followed by 800 spaces and "\nz\nz" took seconds while holding the GIL. So:
#   1. :func:`normalise` bounds the message and collapses every whitespace run (newlines too)
#      into one space before any pattern runs; the patterns therefore use a literal " ", never
#      ``\s+``/``\s*``;
#   2. no two adjacent quantified parts of a pattern can match the same characters: a free
#      ``.+`` is followed only by literal text or the end, and optional trailing words (" off",
#      " to my list") are stripped afterwards in code instead of by an optional group after a
#      lazy ``.+?``;
#   3. "verb … noun" (LIST_ALL) is two linear searches, not ``verb.*noun`` (quadratic over a
#      message of repeated verbs).
# A property test (tests/test_backend_chat_rules_redos.py) keeps every message up to
# MAX_MESSAGE_CHARS under a few milliseconds.
_POLITE = r"(?:(?:please|pls|can you|could you|would you|kindly) )*"
_DONE = r"(?:complete|completed|done|finished|finish)"

UPDATE = [
    re.compile(rf"^{_POLITE}(?:change|update|rename|edit|modify) (?P<ref>.+?) (?:to|into|as)(?: ?[:\-])? (?P<title>\S.*)$", _I),
]
COMPLETE = [
    re.compile(rf"^{_POLITE}(?:mark|set|tick|check) (?P<ref>.+?) (?:as |to )?{_DONE}$", _I),
    # "check off X" / "tick X off": a trailing " off" is removed from ref by _strip_off.
    re.compile(rf"^{_POLITE}(?:mark|tick|check) (?:off )?(?P<ref>.+)$", _I),
    re.compile(rf"^{_POLITE}(?:complete|finish) (?P<ref>.+)$", _I),
    re.compile(r"^i (?:have |just )?(?:completed|finished|did|done) (?P<ref>.+)$", _I),
    re.compile(rf"^(?P<ref>.+?) is (?:now )?{_DONE}$", _I),
]
_TRAILING_OFF = re.compile(r" off$", _I)
DELETE = [
    re.compile(rf"^{_POLITE}(?:delete|remove|cancel|drop|erase|get rid of) (?P<ref>.+)$", _I),
]
ADD = [
    re.compile(
        rf"^{_POLITE}(?:add|create|make|new|put) (?:a |an |one )?(?:new )?(?:task|todo|to-do|item|reminder)"
        r"(?: (?:to|called|named|for|that says|saying))?(?: ?[:\-])? ?(?P<title>\S.*)$",
        _I,
    ),
    re.compile(
        r"^(?:i (?:need|have|want|must|should) (?:to )?remember to|remember to|remind me to|"
        r"don'?t let me forget to|i (?:need|have|must|should) to) (?P<title>.+)$",
        _I,
    ),
    # "add X to my list": the trailing " to my list" is removed from the title by _strip_list.
    re.compile(rf"^{_POLITE}add (?P<title>.+)$", _I),
]
_TRAILING_LIST = re.compile(r" to (?:my )?(?:list|tasks|task list|todo list|to-do list)$", _I)
LIST_COMPLETED = re.compile(
    r"\b(?:what (?:have|did) i (?:already )?(?:completed|done|finished|complete|finish|do)|"
    r"(?:completed|finished|done) (?:tasks|todos|items|ones)|what(?:'s| is| are) (?:done|completed|finished))\b",
    _I,
)
LIST_PENDING = re.compile(
    r"\b(?:pending|incomplete|unfinished|outstanding|open tasks|remaining|left to do|still (?:need|have) to do|"
    r"not (?:yet )?(?:done|completed|finished)|to do (?:today|next|now)|what do i (?:still )?(?:need|have) to do)\b",
    _I,
)
# "show … tasks": a verb, then (anywhere after it) a noun; see _asks_for_list.
LIST_VERB = re.compile(r"\b(?:show|list|display|view|see|get|give|what(?:'s| is| are)|tell me|read)\b", _I)
LIST_NOUN = re.compile(r"\b(?:tasks?|todos?|to-dos?|list)\b", _I)
LIST_NOUN_AT_END = re.compile(r"\b(?:tasks?|todos?|to-dos?|list)$", _I)
LIST_ONLY = re.compile(r"^(?:my )?(?:tasks|todos|to-dos|todo list|to-do list)$", _I)
GREETING = re.compile(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening)|howdy|yo)\b", _I)
HELP_ASK = re.compile(r"^(?:help|what can you do|how does this work|\?+)$|\bhelp\b", _I)
THANKS = re.compile(r"^(?:thanks|thank you|thx|cheers|great|ok|okay|cool|nice)\b", _I)

PRONOUN = re.compile(r"^(?:it|that|this|that one|this one|that task|this task|the task|the last one|the last task)$", _I)
NUMBER = re.compile(r"^(?:the )?(?:(?:task|todo|item|number|no\.?) ?)?(?:number )?(?:# ?)?(?P<id>\d+)$", _I)


def normalise(message: str) -> str:
    """The message as the patterns see it: bounded, every whitespace run one space, trimmed."""
    return _clean(" ".join(message[:MAX_MESSAGE_CHARS].split()))


def _asks_for_list(text: str, *, whole: bool = False) -> bool:
    """"show … tasks" somewhere in ``text`` (``whole``: the text starts with the verb and ends with the noun).

    Equivalent to searching ``\\bVERB\\b.*\\bNOUN\\b`` but linear: the first verb has the
    earliest end, so a noun anywhere after it exists iff one exists after any verb.
    """
    if whole:
        verb = LIST_VERB.match(text)
        return LIST_ONLY.match(text) is not None or (
            verb is not None and (m := LIST_NOUN_AT_END.search(text, verb.end())) is not None and m.end() == len(text)
        )
    verb = LIST_VERB.search(text)
    return LIST_ONLY.match(text) is not None or (verb is not None and LIST_NOUN.search(text, verb.end()) is not None)


def _clean(text: str) -> str:
    text = text.strip().strip(" .!?;")
    return text


def _unquote(text: str) -> str:
    text = _clean(text)
    if len(text) >= 2 and text[0] in "'\"“‘" and text[-1] in "'\"”’":
        text = text[1:-1].strip()
    return text


def _text_query(ref: str) -> str:
    ref = _unquote(ref)
    ref = re.sub(r"^(?:the|my|a) ", "", ref, flags=_I)
    ref = re.sub(r"^(?:task|todo|item) (?:about|called|named|for|to|that says) ", "", ref, flags=_I)
    ref = re.sub(r" (?:task|todo|item|one)$", "", ref, flags=_I)
    return _unquote(ref)


def _looks_like_ref(ref: str) -> bool:
    return bool(_text_query(ref)) and not re.fullmatch(r"(?:all|everything|my tasks)", _clean(ref), _I)


@dataclass(frozen=True)
class Intent:
    """What a message asks for, before anything is looked up or changed."""

    action: Literal["update", "complete", "delete", "add", "list", "greeting", "thanks", "help", "unknown"]
    ref: str = ""  # update/complete/delete: which task ("task 3", "it", "the meeting task")
    title: str = ""  # add/update: the (new) title
    status: str = ""  # list: all, pending or completed
    text: str = ""  # the normalised message


def parse(message: str) -> Intent:
    """The intent of one message: pure, no database, linear in the (bounded) message length."""
    text = normalise(message)
    for pattern in UPDATE:
        if m := pattern.match(text):
            return Intent("update", ref=m["ref"], title=m["title"], text=text)
    if not LIST_COMPLETED.search(text):
        for pattern in COMPLETE:
            if m := pattern.match(text):
                ref = _TRAILING_OFF.sub("", m["ref"]) if pattern is COMPLETE[1] else m["ref"]
                if _looks_like_ref(ref):
                    return Intent("complete", ref=ref, text=text)
    for pattern in DELETE:
        if m := pattern.match(text):
            return Intent("delete", ref=m["ref"], text=text)
    for pattern in ADD:
        if m := pattern.match(text):
            title = _TRAILING_LIST.sub("", m["title"]) if pattern is ADD[2] else m["title"]
            title = _unquote(title)
            if title and not _asks_for_list(text, whole=True):
                return Intent("add", title=title, text=text)
    if LIST_COMPLETED.search(text):
        return Intent("list", status="completed", text=text)
    if LIST_PENDING.search(text):
        return Intent("list", status="pending", text=text)
    if _asks_for_list(text):
        return Intent("list", status="all", text=text)
    if GREETING.match(text):
        return Intent("greeting", text=text)
    if THANKS.match(text):
        return Intent("thanks", text=text)
    if HELP_ASK.search(text):
        return Intent("help", text=text)
    return Intent("unknown", text=text)


def previous_task_ids(history: list[Turn]) -> list[int]:
    """The tasks the last assistant turn was about: acted-on tasks, else the ones it listed."""
    for turn in reversed(history):
        if turn.role != "assistant":
            continue
        acted: list[int] = []
        listed: list[int] = []
        for call in turn.tool_calls or []:
            result = call.get("result")
            if isinstance(result, dict) and isinstance(result.get("task_id"), int):
                if result.get("status") != "deleted":
                    acted.append(result["task_id"])
            elif isinstance(result, list):
                listed.extend(item["id"] for item in result if isinstance(item, dict) and "id" in item)
        ids = acted or listed
        return list(dict.fromkeys(ids))
    return []


class RulesProvider:
    """Pattern rules → tool calls; every reply is plain, friendly text."""

    # It reads only the last assistant turn (previous_task_ids: "mark it as complete"), which is the
    # latest stored message; loading 50 with their tool results cost more than the rest of the turn.
    history_messages = 2

    def reply(self, message: str, history: list[Turn], tools: TaskTools, deadline: float | None = None) -> str:
        intent = parse(message)
        if intent.action == "update":
            return self._update(intent.ref, intent.title, history, tools)
        if intent.action == "complete":
            return self._complete(intent.ref, history, tools)
        if intent.action == "delete":
            return self._delete(intent.ref, history, tools)
        if intent.action == "add":
            return self._add(intent.title, tools)
        if intent.action == "list":
            return self._list(intent.status, tools)
        if intent.action == "greeting":
            return "Hello! " + HELP
        if intent.action == "thanks":
            return "You're welcome! Anything else I can do for your tasks?"
        if intent.action == "help":
            return HELP
        return f"Sorry, I didn't understand \"{intent.text[:80]}\". " + HELP

    # -- intents -----------------------------------------------------------------------------
    def _add(self, title: str, tools: TaskTools) -> str:
        description = None
        if m := re.match(r"^(?P<title>.+?) (?:with description|described as|details?:) (?P<desc>.+)$", title, _I):
            title, description = _unquote(m["title"]), _unquote(m["desc"])
        arguments: dict[str, Any] = {"title": title[:200]}
        if description:
            arguments["description"] = description[:1000]
        result = tools.call("add_task", arguments)
        if "error" in result:
            return f"I couldn't add that task: {result['error']}."
        return f"I've added \"{result['title']}\" to your tasks (task {result['task_id']})."

    def _list(self, status: str, tools: TaskTools) -> str:
        tasks = tools.call("list_tasks", {"status": status})
        label = {"all": "", "pending": "pending ", "completed": "completed "}[status]
        if not tasks:
            if status == "completed":
                return "You haven't completed any tasks yet."
            return f"You have no {label}tasks. Say \"Add a task to …\" to create one."
        lines = [
            f"{'✓' if t['completed'] else '○'} {t['id']}. {t['title']}" for t in tasks
        ]
        noun = "task" if len(tasks) == 1 else "tasks"
        head = {
            "all": f"You have {len(tasks)} {noun}:",
            "pending": f"You have {len(tasks)} pending {noun}:",
            "completed": f"You have completed {len(tasks)} {noun}:",
        }[status]
        return head + "\n" + "\n".join(lines)

    def _complete(self, ref: str, history: list[Turn], tools: TaskTools) -> str:
        task_id, problem = self._resolve(ref, history, tools, "complete")
        if task_id is None:
            return problem
        result = tools.call("complete_task", {"task_id": task_id})
        if "error" in result:
            return f"{result['error']}. Say \"Show me all my tasks\" to see their numbers."
        return f"Marked task {result['task_id']} \"{result['title']}\" as complete."

    def _delete(self, ref: str, history: list[Turn], tools: TaskTools) -> str:
        task_id, problem = self._resolve(ref, history, tools, "delete")
        if task_id is None:
            return problem
        result = tools.call("delete_task", {"task_id": task_id})
        if "error" in result:
            return f"{result['error']}. Say \"Show me all my tasks\" to see their numbers."
        return f"Deleted task {result['task_id']} \"{result['title']}\"."

    def _update(self, ref: str, title: str, history: list[Turn], tools: TaskTools) -> str:
        new_title = _unquote(title)
        if not new_title:
            return "What should the new title be? For example: Change task 1 to 'Call mom tonight'."
        task_id, problem = self._resolve(ref, history, tools, "change")
        if task_id is None:
            return problem
        result = tools.call("update_task", {"task_id": task_id, "title": new_title[:200]})
        if "error" in result:
            return f"{result['error']}. Say \"Show me all my tasks\" to see their numbers."
        return f"Updated task {result['task_id']} to \"{result['title']}\"."

    # -- references: "task 3", "it", "the meeting task" --------------------------------------------
    def _resolve(self, ref: str, history: list[Turn], tools: TaskTools, verb: str) -> tuple[int | None, str]:
        cleaned = _clean(ref)
        if m := NUMBER.match(cleaned):
            digits = m["id"].lstrip("0") or "0"
            # Checked on the digits before int(): a 4,000-digit number is a valid message.
            if len(digits) > len(str(MAX_TASK_ID)) or int(digits) > MAX_TASK_ID or int(digits) == 0:
                shown = digits if len(digits) <= 20 else digits[:20] + "…"
                return None, f"There is no task {shown}: task numbers go from 1 to {MAX_TASK_ID}. " \
                    "Say \"Show me all my tasks\" to see their numbers."
            return int(digits), ""
        if PRONOUN.match(cleaned):
            ids = previous_task_ids(history)
            if len(ids) == 1:
                return ids[0], ""
            if not ids:
                return None, f"Which task should I {verb}? Tell me its number, for example \"task 3\"."
            listed = ", ".join(str(i) for i in ids[:10])
            return None, f"Which task should I {verb}? I mentioned tasks {listed}; tell me the number."
        query = _text_query(cleaned)
        try:
            candidates = [t for t in tools.tasks() if query.lower() in t.title.lower()]
        except ToolError as exc:  # pragma: no cover - query_tasks does not raise ToolError today
            return None, str(exc)
        if verb == "complete":
            pending = [t for t in candidates if not t.completed]
            candidates = pending or candidates
        if len(candidates) == 1:
            return candidates[0].id, ""
        if not candidates:
            return None, f"I couldn't find a task matching \"{query}\". Say \"Show me all my tasks\" to see them."
        options = "; ".join(f"{t.id}. {t.title}" for t in candidates[:10])
        return None, f"Several tasks match \"{query}\": {options}. Which one should I {verb}? Tell me its number."
