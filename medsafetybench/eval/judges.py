"""Judges behind one interface: the 1-5 rubric (API or local HF model) and the offline refusal proxy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import MedSafetyError
from ..schema import PrincipleRecord
from .openai_client import (
    ApiOptions,
    describe_error,
    is_content_policy_rejection,
    make_client,
    run_bounded,
    with_retries,
)
from .refusal import REFUSAL_VERSION, detect_refusal
from .rubric import CORRECTION_TURN, parse_judgment, policy_text, prompt_version, render_rubric
from .schema import GenerationSettings, JudgeSettings, JudgmentRecord, settings_hash

__all__ = ["Judge", "JudgeInput", "RefusalJudge", "RubricJudge", "make_judge", "needs_principles"]

JUDGE_MAX_TOKENS = 512


@dataclass(frozen=True)
class JudgeInput:
    id: str
    request: str
    answer: str
    answer_sha256: str
    generation_hash: str
    request_sha256: str


OnJudgment = Callable[[JudgmentRecord], None]


class Judge(Protocol):
    settings: JudgeSettings

    def judge(self, inputs: Sequence[JudgeInput], on_done: OnJudgment) -> None: ...


def _record(judge: Judge, item: JudgeInput, **fields: Any) -> JudgmentRecord:
    s = judge.settings
    return JudgmentRecord(
        id=item.id,
        judge=s.spec,
        judge_hash=settings_hash(s),
        answer_sha256=item.answer_sha256,
        request_sha256=item.request_sha256,
        generation_hash=item.generation_hash,
        judge_model=s.model,
        prompt_version=s.prompt_version,
        temperature=s.temperature,
        **fields,
    )


class RefusalJudge:
    """Refusal-pattern proxy: records ``refused`` and never a 1-5 score."""

    def __init__(self) -> None:
        self.settings = JudgeSettings(spec="refusal", kind="refusal", backend="offline", prompt_version=REFUSAL_VERSION)

    def judge(self, inputs: Sequence[JudgeInput], on_done: OnJudgment) -> None:
        for item in inputs:
            match = detect_refusal(item.answer)
            on_done(_record(self, item, refused=match is not None, reason=match and f"matched {match!r}"))


class RubricJudge:
    """The 1-5 harmfulness rubric. An output without a valid score is retried once (the conversation
    plus a correction turn), then recorded as a parse failure, never as a score: ``judge_refused``
    when the judge refused or the endpoint's content policy rejected the prompt, else ``unparsable``.
    Any other rejected request (HTTP 400) is an error: nothing is recorded for the item."""

    def __init__(
        self,
        spec: str,
        model: str,
        backend: str,
        principles: Sequence[PrincipleRecord],
        api: ApiOptions | None = None,
        hf_batch_size: int | None = None,
    ) -> None:
        self.policy = policy_text(principles)
        self.settings = JudgeSettings(
            spec=spec,
            kind="rubric",
            model=model,
            backend=backend,  # type: ignore[arg-type]
            base_url=(api or ApiOptions()).base_url if backend == "openai" else None,
            prompt_version=prompt_version(self.policy),
            temperature=0.0,
            max_tokens=JUDGE_MAX_TOKENS,
        )
        self.api = api or ApiOptions()
        self.hf_batch_size = hf_batch_size

    def prompt(self, item: JudgeInput) -> str:
        return render_rubric(self.policy, item.request, item.answer)

    def messages(self, item: JudgeInput, first_output: str | None = None) -> list[dict[str, str]]:
        """The judge conversation; for the retry, the first output and a correction turn are appended."""
        messages = [{"role": "user", "content": self.prompt(item)}]
        if first_output is not None:
            messages += [{"role": "assistant", "content": first_output}, {"role": "user", "content": CORRECTION_TURN}]
        return messages

    def _finish(self, item: JudgeInput, raw: str, attempts: int, rejected: bool = False) -> JudgmentRecord:
        parsed = parse_judgment(raw)
        if parsed.score is not None and not rejected:
            return _record(self, item, score=parsed.score, reason=parsed.reason, raw=raw, attempts=attempts)
        kind = "judge_refused" if rejected or detect_refusal(raw) else "unparsable"
        return _record(
            self,
            item,
            parse_failure=True,
            failure_kind=kind,
            reason=parsed.reason,
            raw=raw,
            attempts=attempts,
        )

    # --- OpenAI-compatible endpoint -------------------------------------------------------------
    async def _ask(self, client: Any, item: JudgeInput, messages: list[dict[str, str]]) -> tuple[str, bool]:
        """The judge's output, and whether the endpoint's content policy rejected the request."""
        import openai

        what = f"item {item.id}: judge {self.settings.model}"
        try:
            resp = await with_retries(
                lambda: client.chat.completions.create(
                    model=self.settings.model,
                    messages=messages,
                    temperature=0,
                    max_tokens=JUDGE_MAX_TOKENS,
                ),
                self.api,
                what,
                reraise=(openai.BadRequestError,),
            )
        except openai.BadRequestError as exc:
            if not is_content_policy_rejection(exc):  # unsupported parameter, context length...: a real error
                raise MedSafetyError(f"{what}: {describe_error(exc)}") from None
            return f"[rejected by the endpoint's content policy: {describe_error(exc)}]", True
        choice = resp.choices[0]
        if choice.finish_reason == "content_filter":
            return "[rejected by the endpoint's content policy: finish_reason content_filter]", True
        return choice.message.content or "", False

    async def _judge_one(self, client: Any, item: JudgeInput) -> JudgmentRecord:
        raw, rejected = await self._ask(client, item, self.messages(item))
        if rejected or parse_judgment(raw).score is not None:
            return self._finish(item, raw, 1, rejected)
        raw, rejected = await self._ask(client, item, self.messages(item, raw))
        return self._finish(item, raw, 2, rejected)

    # --- local transformers model ---------------------------------------------------------------
    def _judge_hf(self, inputs: Sequence[JudgeInput], on_done: OnJudgment) -> None:
        from .backend_hf import HFGenerator
        from .generation import Completion, PromptJob
        from .models import resolve_model

        settings = GenerationSettings(
            backend="hf",
            model=self.settings.model or "",
            prompt_format="chat",
            template="chat",
            max_new_tokens=JUDGE_MAX_TOKENS,
            dtype="auto",
        )
        gen = HFGenerator(settings, resolve_model(settings.model), batch_size=self.hf_batch_size)
        by_id = {i.id: i for i in inputs}
        retry: list[PromptJob] = []

        def first(c: Completion) -> None:
            if parse_judgment(c.text).score is not None:
                on_done(self._finish(by_id[c.id], c.text, 1))
            else:
                retry.append(PromptJob(c.id, self.messages(by_id[c.id], c.text)))

        gen.generate([PromptJob(i.id, self.messages(i)) for i in inputs], first)
        gen.generate(retry, lambda c: on_done(self._finish(by_id[c.id], c.text, 2)))

    def judge(self, inputs: Sequence[JudgeInput], on_done: OnJudgment) -> None:
        if not inputs:
            return
        if self.settings.backend == "hf":
            self._judge_hf(inputs, on_done)
            return
        client = make_client(self.api)
        run_bounded(inputs, lambda item: self._judge_one(client, item), on_done, self.api.concurrency)


def needs_principles(spec: str) -> bool:
    return spec.startswith("rubric:")


def make_judge(
    spec: str,
    principles: Sequence[PrincipleRecord] | None = None,
    api: ApiOptions | None = None,
    hf_batch_size: int | None = None,
) -> Judge:
    """A judge from its spec: ``refusal``, ``rubric:<api model>`` or ``rubric:hf:<model or path>``."""
    if spec == "refusal":
        return RefusalJudge()
    if spec.startswith("rubric:") and len(spec) > len("rubric:"):
        if principles is None:
            raise MedSafetyError(f"judge {spec}: the principles config is needed for the rubric prompt")
        rest = spec[len("rubric:") :]
        if rest.startswith("hf:") and len(rest) > 3:
            return RubricJudge(spec, rest[3:], "hf", principles, api, hf_batch_size)
        return RubricJudge(spec, rest, "openai", principles, api)
    raise MedSafetyError(f"unknown judge {spec!r}: use refusal, rubric:<api model> or rubric:hf:<model>")
