"""Domain exceptions, raised by the domain and mapped to HTTP status codes in `api/errors.py`.

Each carries a message a person can act on.
"""


class ZhianError(Exception):
    """Base for errors the service reports to its callers."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ZhianError):
    code = "not_found"


class Unauthorized(ZhianError):
    code = "unauthorized"


class Forbidden(ZhianError):
    code = "forbidden"


class Conflict(ZhianError):
    code = "conflict"


class InvalidInput(ZhianError):
    code = "invalid_input"


class LLMUnavailable(ZhianError):
    code = "llm_unavailable"


class TooLarge(ZhianError):
    code = "too_large"
