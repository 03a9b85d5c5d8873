"""Diagnosis: from pod facts to a plain-language cause and the command that fixes it.

Three layers, so the rules do not care where the facts came from:

* **facts** (:mod:`.facts`) — :class:`PodFacts`, :class:`ContainerFacts`, :class:`EventFacts`,
  :class:`ProbeFacts`: plain frozen dataclasses. The cluster tier fills them from Kubernetes API
  objects (:func:`pod_facts`, which also accepts the plain dicts of ``kubectl get -o json``); the
  runtime tier fills them from ``docker inspect`` (a container's ``OOMKilled``, exit code, health log).
* **rules** (:mod:`.rules`) — ``rule_*`` functions: ``(PodFacts, Environment) -> list[Finding]``.
  Each names the cause and the fix; :data:`RULES` lists them, :func:`diagnose` runs them all. What a
  fix depends on the kind of cluster (:class:`Environment`, the image load command, more room)
  comes from :mod:`harness.providers`.
* **collection and report** — :func:`collect` (:mod:`.collect`) reads a namespace through the
  ``kubernetes`` client; :func:`format_report` (:mod:`.report`) prints events, conditions, container
  states, restarts, last log lines and the findings. ``python -m harness.diagnose`` (:mod:`.cli`)
  is ``make diagnose``.

Callers use this package: ``from harness import diagnose as dx``.
"""

from harness.diagnose.cli import main
from harness.diagnose.collect import as_api_object, collect, pod_facts
from harness.diagnose.facts import ContainerFacts, EventFacts, PodFacts, ProbeFacts
from harness.diagnose.report import format_report
from harness.diagnose.rules import RULES, Finding, Rule, config_error_variable, diagnose
from harness.providers import Environment

__all__ = [
    "RULES",
    "ContainerFacts",
    "Environment",
    "EventFacts",
    "Finding",
    "PodFacts",
    "ProbeFacts",
    "Rule",
    "as_api_object",
    "collect",
    "config_error_variable",
    "diagnose",
    "format_report",
    "main",
    "pod_facts",
]
