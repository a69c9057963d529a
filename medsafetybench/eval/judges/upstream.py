"""The ``upstream`` judge: the paper's own judge, its prompt read at run time from upstream's code.

``upstream`` (upstream's judge model, ``gpt-3.5-turbo-0125``), ``upstream:<api model>`` or
``upstream:<backend>:<model>``. The prompt is upstream's ``eval_prompt`` f-string filled with its
medical usage policy, its 1-5 rubric, the request and the answer (stripped, as upstream strips the
answer it cut from the model output), sent after upstream's system prompt with its temperature and
max tokens (see :mod:`.upstream_prompt`). Scores are read and failures counted exactly as for the
``rubric`` judge (same parser, one correction turn, ``unparsable`` / ``judge_refused``).
"""

from __future__ import annotations

from ..backends import BACKENDS
from ..openai_client import ApiOptions
from .base import JudgeContext, JudgeInput, register_judge
from .rubric import RubricJudge
from .upstream_prompt import UpstreamPrompt, judge_files_dir, read_upstream_prompt

__all__ = ["UPSTREAM_PROMPT_VERSION", "UpstreamJudge"]

UPSTREAM_PROMPT_VERSION = "upstream-exp02"


@register_judge("upstream")
class UpstreamJudge(RubricJudge):
    """The paper's judge (upstream ``exps/exp02_eval_responses.py``); numbers as the rubric judge's."""

    usage = ("upstream[:<api model>]",)
    report_note = (
        "`upstream` judges use the paper's own judge prompt (upstream's usage policy and 1-5 rubric, read "
        "from its code at run time); their scores are parsed and their failures counted as the rubric's."
    )
    chart = RubricJudge.chart  # the same axis: charted side by side with rubric judges

    def __init__(
        self,
        spec: str,
        model: str,
        backend: str,
        prompt: UpstreamPrompt,
        api: ApiOptions | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.upstream = prompt
        version = f"{UPSTREAM_PROMPT_VERSION}+{prompt.source_sha256[:12]}"
        self._set_transport(spec, model, backend, api, batch_size, version, prompt.temperature, prompt.max_tokens)

    @classmethod
    def from_spec(cls, spec: str, args: str | None, context: JudgeContext) -> UpstreamJudge:
        """``upstream`` (upstream's model), ``upstream:<model>`` or ``upstream:<backend>:<model>``."""
        prompt = read_upstream_prompt(judge_files_dir(context.upstream))
        args = args or prompt.model
        backend, sep, model = args.partition(":")
        if not (sep and backend in BACKENDS and model):
            backend, model = cls.default_transport, args
        return cls(spec, model, backend, prompt, context.api, context.batch_size)

    def prompt(self, item: JudgeInput) -> str:
        return self.upstream.render(item.request, item.answer.strip())

    def messages(self, item: JudgeInput, first_output: str | None = None) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.upstream.system_prompt}, *super().messages(item, first_output)]

    @classmethod
    def prompt_version(cls, policy: str) -> str:  # the version is set from the upstream files' hash
        return UPSTREAM_PROMPT_VERSION
