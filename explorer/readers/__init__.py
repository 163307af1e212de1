class ModelUnavailable(RuntimeError):
    """One-line, user-facing: what is missing and the install command."""
