"""The chat-completions client: the official `openai` package pointed at PAPERSIFT_LLM_BASE_URL.

The package retries timeouts, lost connections, 429 and 5xx (PAPERSIFT_LLM_RETRIES times, with
exponential backoff or the server's Retry-After) and redacts the Authorization header in its debug
logs. Its errors become ModelUnavailable with a message of our own: a provider's error body can
quote the API key (part of it), so no body or exception text from the server is passed on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from papersift.errors import LlmNotConfigured, ModelUnavailable
from papersift.settings import Settings

logger = logging.getLogger(__name__)
NO_KEY = "none"  # local servers (vLLM, Ollama) take any key; the package insists on one


class ChatClient:
    """One model at one endpoint. `stream` yields the answer in pieces; `complete` returns it whole."""

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_enabled:
            raise LlmNotConfigured("no language model is configured",
                                   hint="set PAPERSIFT_LLM_BASE_URL and PAPERSIFT_LLM_MODEL")
        self.model = settings.llm_model
        self.timeout = settings.llm_timeout_seconds
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else NO_KEY
        import openai  # here, with a model configured: the package costs every process ~14 MB and 0.7 s

        self._client = openai.OpenAI(base_url=settings.llm_base_url, api_key=key,
                                     timeout=settings.llm_timeout_seconds, max_retries=settings.llm_retries)

    def open_stream(self, messages: list[dict]) -> Iterator[str]:
        """Start a streamed answer (retried until the server accepts it) and return an iterator of
        its text pieces. Errors before the first piece and while streaming are ModelUnavailable."""
        with self._errors():
            stream = self._client.chat.completions.create(model=self.model, messages=messages, stream=True)
        return self._pieces(stream)

    def _pieces(self, stream) -> Iterator[str]:
        with self._errors(), stream:
            for chunk in stream:
                for choice in chunk.choices or []:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content

    def complete(self, messages: list[dict]) -> str:
        """The whole answer of one non-streamed request."""
        with self._errors():
            response = self._client.chat.completions.create(model=self.model, messages=messages)
        content = response.choices[0].message.content if response.choices else None
        if not content:
            raise ModelUnavailable(f"the language model ({self.model}) returned an empty answer",
                                   hint="try again later")
        return content

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def _errors(self):
        import openai  # imported by __init__ already

        try:
            yield
        except openai.APITimeoutError:
            logger.warning("llm %s: no answer within %s s", self.model, self.timeout)
            raise ModelUnavailable(f"the language model ({self.model}) did not answer within "
                                   f"{self.timeout:g} s", hint="try again later") from None
        except openai.APIConnectionError as error:
            logger.warning("llm %s: cannot connect (%s)", self.model, type(error.__cause__ or error).__name__)
            raise ModelUnavailable(f"the language model ({self.model}) cannot be reached",
                                   hint="try again later") from None
        except openai.APIStatusError as error:
            logger.warning("llm %s: HTTP %s", self.model, error.status_code)
            raise ModelUnavailable(_status_message(self.model, error.status_code),
                                   hint=_status_hint(error.status_code)) from None
        except openai.APIError as error:  # a broken stream or response body
            logger.warning("llm %s: unreadable answer (%s)", self.model, type(error).__name__)
            raise ModelUnavailable(f"the language model ({self.model}) sent an unreadable answer",
                                   hint="try again later") from None


def _status_message(model: str, status: int) -> str:
    if status == 429:
        return f"the language model ({model}) is busy: it kept answering 429 Too Many Requests"
    if status in (401, 403):
        return f"the language model ({model}) refused the request ({status}): the API key is not accepted"
    if status >= 500:
        return f"the language model ({model}) is unavailable: it kept answering {status}"
    return f"the language model ({model}) refused the request ({status})"


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "the operator should check PAPERSIFT_LLM_API_KEY"
    if status == 404:
        return "the operator should check PAPERSIFT_LLM_BASE_URL and PAPERSIFT_LLM_MODEL"
    return "try again later"
