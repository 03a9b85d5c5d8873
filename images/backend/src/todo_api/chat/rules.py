"""The ``rules`` provider: offline and deterministic, it understands the published phrasings.

"Add a task to buy groceries", "Show me all my tasks", "What's pending?", "Mark task 3 as
complete", "Delete the meeting task", "Change task 1 to 'Call mom tonight'", "I need to remember
to pay bills", "What have I completed?" - and "Mark it as complete" when the previous turn was
about exactly one task. Anything else gets a short guide to what it understands.
"""

from __future__ import annotations

import re
from typing import Any

from todo_api.chat import Turn
from todo_api.tools import TaskTools, ToolError, query_tasks

HELP = (
    "I can manage your tasks. Try: \"Add a task to buy groceries\", \"Show me all my tasks\", "
    "\"What's pending?\", \"Mark task 3 as complete\", \"Change task 1 to 'Call mom tonight'\" "
    "or \"Delete the meeting task\"."
)

_I = re.IGNORECASE
_POLITE = r"(?:(?:please|pls|can you|could you|would you|kindly)\s+)*"
_DONE = r"(?:complete|completed|done|finished|finish)"

UPDATE = [
    re.compile(rf"^{_POLITE}(?:change|update|rename|edit|modify)\s+(?P<ref>.+?)\s+(?:to|into|as)\s*[:\-]?\s+(?P<title>.+)$", _I),
]
COMPLETE = [
    re.compile(rf"^{_POLITE}(?:mark|set|tick|check)\s+(?P<ref>.+?)\s+(?:as\s+|to\s+)?{_DONE}$", _I),
    re.compile(rf"^{_POLITE}(?:mark|tick|check)\s+(?:off\s+)?(?P<ref>.+?)(?:\s+off)?$", _I),
    re.compile(rf"^{_POLITE}(?:complete|finish)\s+(?P<ref>.+)$", _I),
    re.compile(rf"^(?:i\s+(?:have\s+|just\s+)?(?:completed|finished|did|done))\s+(?P<ref>.+)$", _I),
    re.compile(rf"^(?P<ref>.+?)\s+is\s+(?:now\s+)?{_DONE}$", _I),
]
DELETE = [
    re.compile(rf"^{_POLITE}(?:delete|remove|cancel|drop|erase|get rid of)\s+(?P<ref>.+)$", _I),
]
ADD = [
    re.compile(
        rf"^{_POLITE}(?:add|create|make|new|put)\s+(?:a\s+|an\s+|one\s+)?(?:new\s+)?(?:task|todo|to-do|item|reminder)"
        r"(?:\s+(?:to|called|named|for|that says|saying))?\s*[:\-]?\s*(?P<title>.+)$",
        _I,
    ),
    re.compile(
        r"^(?:i\s+(?:need|have|want|must|should)\s+(?:to\s+)?remember\s+to|remember\s+to|remind\s+me\s+to|"
        r"don'?t\s+let\s+me\s+forget\s+to|i\s+(?:need|have|must|should)\s+to)\s+(?P<title>.+)$",
        _I,
    ),
    re.compile(rf"^{_POLITE}add\s+(?P<title>.+?)(?:\s+to\s+(?:my\s+)?(?:list|tasks|task list|todo list|to-do list))?$", _I),
]
LIST_COMPLETED = re.compile(
    r"\b(?:what\s+(?:have|did)\s+i\s+(?:already\s+)?(?:completed|done|finished|complete|finish|do)|"
    r"(?:completed|finished|done)\s+(?:tasks|todos|items|ones)|what(?:'s|\s+is|\s+are)\s+(?:done|completed|finished))\b",
    _I,
)
LIST_PENDING = re.compile(
    r"\b(?:pending|incomplete|unfinished|outstanding|open\s+tasks|remaining|left\s+to\s+do|still\s+(?:need|have)\s+to\s+do|"
    r"not\s+(?:yet\s+)?(?:done|completed|finished)|to\s+do\s+(?:today|next|now)|what\s+do\s+i\s+(?:still\s+)?(?:need|have)\s+to\s+do)\b",
    _I,
)
LIST_ALL = re.compile(
    r"\b(?:show|list|display|view|see|get|give|what(?:'s|\s+is|\s+are)|tell\s+me|read)\b.*\b(?:tasks?|todos?|to-dos?|list)\b|"
    r"^(?:my\s+)?(?:tasks|todos|to-dos|todo list|to-do list)$",
    _I,
)
GREETING = re.compile(r"^(?:hi|hello|hey|good\s+(?:morning|afternoon|evening)|howdy|yo)\b", _I)
HELP_ASK = re.compile(r"^(?:help|what can you do|how does this work|\?+)$|\bhelp\b", _I)
THANKS = re.compile(r"^(?:thanks|thank you|thx|cheers|great|ok|okay|cool|nice)\b", _I)

PRONOUN = re.compile(r"^(?:it|that|this|that one|this one|that task|this task|the task|the last one|the last task)$", _I)
NUMBER = re.compile(r"^(?:the\s+)?(?:task|todo|item|number|no\.?)?\s*(?:number\s+)?#?\s*(?P<id>\d+)$", _I)


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
    ref = re.sub(r"^(?:the|my|a)\s+", "", ref, flags=_I)
    ref = re.sub(r"^(?:task|todo|item)\s+(?:about|called|named|for|to|that says)\s+", "", ref, flags=_I)
    ref = re.sub(r"\s+(?:task|todo|item|one)$", "", ref, flags=_I)
    return _unquote(ref)


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

    def reply(self, message: str, history: list[Turn], tools: TaskTools) -> str:
        text = _clean(message)
        for pattern in UPDATE:
            if m := pattern.match(text):
                return self._update(m["ref"], m["title"], history, tools)
        if not LIST_COMPLETED.search(text):
            for pattern in COMPLETE:
                if (m := pattern.match(text)) and self._looks_like_ref(m["ref"]):
                    return self._complete(m["ref"], history, tools)
        for pattern in DELETE:
            if m := pattern.match(text):
                return self._delete(m["ref"], history, tools)
        for pattern in ADD:
            if m := pattern.match(text):
                title = _unquote(m["title"])
                if title and not LIST_ALL.fullmatch(text):
                    return self._add(title, tools)
        if LIST_COMPLETED.search(text):
            return self._list("completed", tools)
        if LIST_PENDING.search(text):
            return self._list("pending", tools)
        if LIST_ALL.search(text):
            return self._list("all", tools)
        if GREETING.match(text):
            return "Hello! " + HELP
        if THANKS.match(text):
            return "You're welcome! Anything else I can do for your tasks?"
        if HELP_ASK.search(text):
            return HELP
        return f"Sorry, I didn't understand \"{text[:80]}\". " + HELP

    # -- intents -----------------------------------------------------------------------------
    @staticmethod
    def _looks_like_ref(ref: str) -> bool:
        return bool(_text_query(ref)) and not re.fullmatch(r"(?:all|everything|my tasks)", _clean(ref), _I)

    def _add(self, title: str, tools: TaskTools) -> str:
        description = None
        if m := re.match(r"^(?P<title>.+?)\s+(?:with description|described as|details?:)\s+(?P<desc>.+)$", title, _I):
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
            return int(m["id"]), ""
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
            candidates = [t for t in query_tasks(tools.session, tools.user_id) if query.lower() in t.title.lower()]
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
