"""Errors of the store, the review workflow and the HTTP API (codes CC600–CC639).

Messages name ids, fields and statuses, never note text or patient details.
"""

from __future__ import annotations

from chartcode.errors import ChartcodeError, InputError


class StoreError(ChartcodeError):
    """The database cannot be opened or migrated."""

    code = "CC600"


class NotFoundError(ChartcodeError):
    """An id that does not exist (HTTP 404)."""

    code = "CC601"


class ConflictError(ChartcodeError):
    """Optimistic concurrency: the encounter changed since the client read it (HTTP 409)."""

    code = "CC602"


class WorkflowError(InputError):
    """A step that the encounter's state does not allow (HTTP 422), e.g. completing with undecided codes."""

    code = "CC603"


class AuthError(ChartcodeError):
    """Bad credentials or token (HTTP 401)."""

    code = "CC604"


class ForbiddenError(ChartcodeError):
    """The signed-in user's role may not do this (HTTP 403)."""

    code = "CC605"


class DuplicateError(InputError):
    """A unique name is taken (e.g. a username) (HTTP 409)."""

    code = "CC606"


class CodeFormatError(InputError):
    """A code typed by a coder is not shaped like an ICD-10-CM, CPT or HCPCS code (HTTP 422)."""

    code = "CC607"


class DemoDataError(ChartcodeError):
    """The demo needs something that is missing (the code-set knowledge base)."""

    code = "CC608"


class AuditLogImmutableError(ChartcodeError):
    """Code tried to change or delete an audit-log row."""

    code = "CC609"


class CoderFailedError(ChartcodeError):
    """The coder raised an unexpected error on an encounter; nothing was stored for it (HTTP 500)."""

    code = "CC610"


class InternalError(ChartcodeError):
    """An unexpected server error (HTTP 500); logged by exception type only, never with its message."""

    code = "CC611"
