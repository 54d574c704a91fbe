"""Playbooks: YAML (or CACAO 2.0) recipes mapping incident conditions to response steps.

Public API:

* :func:`load_playbooks` (built-ins plus files and folders), :func:`parse_playbook`;
* :class:`Playbook`, :class:`Step`, :class:`Conditions` (the model);
* :func:`matching` (which playbooks apply to an incident) and :func:`expand` (the concrete
  :class:`PlannedStep` instances, in execution order, with resolved parameters);
* :func:`to_cacao`, :func:`from_cacao`, :func:`validate_cacao` (OASIS CACAO 2.0 JSON);
* :class:`PlaybookError` / :class:`CacaoError` (with file, step and JSON paths);
* :data:`RESOLVERS` (named placeholders) and :data:`FOR_EACH` (allowed ``for_each`` paths).
"""

from trailguard.respond.playbooks.cacao import from_cacao, to_cacao
from trailguard.respond.playbooks.cacao_check import validate_cacao
from trailguard.respond.playbooks.errors import CacaoError, PlaybookError, Problem
from trailguard.respond.playbooks.facts import FOR_EACH
from trailguard.respond.playbooks.load import builtin_playbooks, load_playbooks
from trailguard.respond.playbooks.match import PlannedStep, expand, matching
from trailguard.respond.playbooks.model import Conditions, Playbook, Step, parse_playbook
from trailguard.respond.playbooks.placeholders import RESOLVERS

__all__ = [
    "FOR_EACH", "RESOLVERS", "CacaoError", "Conditions", "PlannedStep", "Playbook",
    "PlaybookError", "Problem", "Step", "builtin_playbooks", "expand", "from_cacao",
    "load_playbooks", "matching", "parse_playbook", "to_cacao", "validate_cacao",
]
