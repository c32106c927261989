"""The one exception type users see: a message that names the setting and the fix."""


class WorkflowError(Exception):
    """A user-facing error. The CLI prints it without a traceback and exits 2."""
