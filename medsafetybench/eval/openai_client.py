"""Async calls to an OpenAI-compatible endpoint: bounded concurrency, retries with backoff."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..core.errors import MedSafetyError
from ..core.secrets import redact, register_secret_env

__all__ = [
    "ApiOptions",
    "ItemFailure",
    "describe_error",
    "is_content_policy_rejection",
    "make_client",
    "run_bounded",
    "scrub_secrets",
    "with_retries",
]

_sleep = asyncio.sleep  # indirection so tests can record the waits
T = TypeVar("T")
J = TypeVar("J")


@dataclass(frozen=True)
class ApiOptions:
    """How to reach the endpoint. The key is read from the environment variable ``api_key_env``."""

    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    timeout: float = 120.0


def make_client(options: ApiOptions) -> Any:
    """An ``openai.AsyncOpenAI`` client with its own retries off (ours apply instead)."""
    try:
        import openai
    except ImportError:
        raise MedSafetyError(
            "the openai backend needs the openai package: pip install 'medsafetybench[eval]'"
        ) from None
    register_secret_env(options.api_key_env)
    key = os.environ.get(options.api_key_env)
    if not key:
        if options.base_url is None:
            raise MedSafetyError(f"no API key: set ${options.api_key_env} (or pass --base-url for a local server)")
        key = "not-needed"  # local OpenAI-compatible servers (vLLM, llama.cpp) accept any key
    return openai.AsyncOpenAI(api_key=key, base_url=options.base_url, max_retries=0, timeout=options.timeout)


class ItemFailure(MedSafetyError):
    """One item's call failed for good (retries exhausted, or a malformed reply): its outcome, not the stage's."""

    def __init__(self, message: str, error_class: str) -> None:
        super().__init__(message)
        self.error_class = error_class


def _is_http_error(exc: BaseException) -> bool:
    import openai

    return isinstance(exc, openai.APIStatusError)


def _retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError))


_POLICY_CODES = {"content_filter", "content_policy_violation", "responsibleaipolicyviolation"}


def scrub_secrets(text: str) -> str:
    """``text`` with API keys masked (by value and by shape; see :mod:`medsafetybench.core.secrets`)."""
    return redact(text)


def describe_error(exc: BaseException) -> str:
    """One line naming the error, without API keys."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        text = f"HTTP {exc.status_code}: {str(exc.message).splitlines()[0][:200] if str(exc.message) else ''}"
    else:
        text = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return scrub_secrets(text)


def is_content_policy_rejection(exc: BaseException) -> bool:
    """Whether an HTTP 400 is the endpoint's content policy refusing the prompt (not a bad request)."""
    body = getattr(exc, "body", None)
    codes = [getattr(exc, "code", None)]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            codes += [error.get("code"), error.get("type")]
            inner = error.get("innererror")
            if isinstance(inner, dict):
                codes.append(inner.get("code"))
    return any(isinstance(c, str) and c.lower() in _POLICY_CODES for c in codes)


def _retry_after(exc: BaseException, cap: float) -> float | None:
    """The server's ``Retry-After`` (seconds) on a 429/503, capped; None if absent or not a number."""
    import openai

    if not isinstance(exc, openai.APIStatusError) or exc.status_code not in (429, 503):
        return None
    value = exc.response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(cap, seconds)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    options: ApiOptions,
    what: str,
    reraise: tuple[type[BaseException], ...] = (),
) -> T:
    """Await ``call()``; on 429, 5xx, timeouts and connection errors retry with exponential backoff
    (or after the server's ``Retry-After`` on 429/503, capped at ``backoff_max``).

    Other HTTP errors (a bad key, an unknown model, a rejected parameter: the same for every item)
    become a one-line ``MedSafetyError`` naming ``what`` (API keys masked), except ``reraise`` types.
    A reply that cannot be read (not JSON, truncated) and retries exhausted raise :class:`ItemFailure`.
    """
    for attempt in range(options.max_retries + 1):
        try:
            return await call()
        except Exception as exc:
            if isinstance(exc, reraise):
                raise
            if not _retryable(exc):
                if _is_http_error(exc):
                    raise MedSafetyError(f"{what}: {describe_error(exc)}") from None
                raise ItemFailure(f"{what}: {describe_error(exc)}", type(exc).__name__) from None
            if attempt == options.max_retries:
                message = f"{what}: gave up after {attempt + 1} attempts ({describe_error(exc)})"
                raise ItemFailure(message, type(exc).__name__) from None
            server_delay = _retry_after(exc, options.backoff_max)
            if server_delay is not None:
                await _sleep(server_delay)
            else:
                delay = min(options.backoff_max, options.backoff_base * 2**attempt)
                await _sleep(delay * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")


def run_bounded(
    jobs: Sequence[J],
    worker: Callable[[J], Awaitable[T]],
    on_done: Callable[[T], None],
    concurrency: int,
) -> None:
    """Run ``worker`` over ``jobs`` with at most ``concurrency`` in flight; ``on_done`` as each ends.

    After the first error no new job starts; jobs already in flight finish and are handed to
    ``on_done`` (so they are saved), then the first error is raised.
    """
    skipped = object()

    async def main() -> None:
        semaphore = asyncio.Semaphore(max(1, concurrency))
        failed: list[BaseException] = []

        async def guarded(job: J) -> Any:
            async with semaphore:
                if failed:
                    return skipped
                try:
                    return await worker(job)
                except Exception as exc:
                    failed.append(exc)
                    return skipped

        tasks = [asyncio.ensure_future(guarded(job)) for job in jobs]  # start (and queue) in job order
        for next_done in asyncio.as_completed(tasks):
            result = await next_done
            if result is not skipped:
                on_done(result)
        if failed:
            raise failed[0]

    asyncio.run(main())
