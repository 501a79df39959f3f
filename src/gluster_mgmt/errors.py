"""The one error hierarchy of gluster_mgmt.

Every backend translates its client library's exceptions into these at its edge and chains
the original as ``__cause__``, so callers never need to know which store they run on.
Messages name what is wrong and never contain secrets (tokens, passwords).
"""

from __future__ import annotations


class GlusterMgmtError(Exception):
    """Base of everything gluster_mgmt raises on purpose."""


class StoreError(GlusterMgmtError):
    """A configuration-store operation failed."""


class ConflictError(StoreError):
    """A compare-and-swap lost: the key's revision (or existence) was not what was expected."""

    def __init__(self, message: str, keys: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.keys = keys


class UnavailableError(StoreError):
    """The store cannot be reached or has no quorum; the operation may be retried."""


class StoreTimeoutError(StoreError, TimeoutError):
    """The store did not answer in time; the operation may or may not have been applied."""


class ValueTooLargeError(StoreError, ValueError):
    """A value or transaction exceeds the common size limit every backend accepts."""


class InvalidKeyError(StoreError, ValueError):
    """A key or prefix is not acceptable to the store contract."""


class AuthError(StoreError):
    """The store refused our credentials (the credentials themselves are never shown)."""


class RevisionCompactedError(StoreError):
    """A watch asked to resume from a revision whose history the store no longer keeps.

    The caller must list the prefix again and watch from the listing's revision.
    """


class LeaseExpiredError(StoreError):
    """The lease is gone (expired or revoked): keys bound to it have vanished."""


class PluginError(GlusterMgmtError):
    """A backend plugin could not be found or loaded."""


class LockTimeoutError(GlusterMgmtError, TimeoutError):
    """A lock was not acquired within the requested time."""


class OperationFailed(GlusterMgmtError):
    """A cluster operation was refused or failed; the message is the one glusterd would give.

    ``errno`` is what ``gluster --xml`` reports as opErrno (0 when glusterd reports none).
    """

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


class ValidationError(GlusterMgmtError, ValueError):
    """A user-supplied value breaks one of glusterd's rules; the message is glusterd's."""


class IdentityError(GlusterMgmtError, ValueError):
    """The node's glusterd.info is unusable: the daemon must not start under a wrong identity."""


class SchemaError(GlusterMgmtError, ValueError):
    """A stored document has a schema version this code does not understand."""


VALIDATION_FAILED = "Error, Validation Failed"


class UnknownOptionError(ValidationError):
    """`volume set` named a key glusterd does not know; carries glusterd's hint if any."""

    def __init__(self, key: str, hint: str | None) -> None:
        message = f"option : {key} does not exist"
        if hint:
            message += f"\nDid you mean {hint}?"
        super().__init__(message)
        self.key = key
        self.hint = hint


class OptionValueError(ValidationError):
    """A value is refused. ``str()`` and ``detail`` are glusterd's CLI text, which names the
    value and why (``VALIDATION_FAILED`` where glusterd says no more)."""

    def __init__(self, key: str, value: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key
        self.value = value
        self.detail = detail
