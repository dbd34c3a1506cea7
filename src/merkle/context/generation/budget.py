"""The token budget of one prompt: the model's window, less the answer it may write.

Estimates err high (`merkle.providers.tokens`), and a share of the window is
kept back besides, for tokenisers that count more than the estimate and for
the chat format's own tokens around each message.
"""

from __future__ import annotations

from dataclasses import dataclass

from merkle.providers.windows import LOCAL_WINDOW

MARGIN = 0.10
MESSAGE_OVERHEAD_TOKENS = 32  # two messages, framed by the chat template
MIN_CONTENT_TOKENS = 256
# After a `context_length` refusal the next try uses this share of the budget.
SHRINK = 0.6


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptBudget:
    """`window_tokens` of the model, of which `answer_tokens` are its answer's."""

    window_tokens: int = LOCAL_WINDOW
    answer_tokens: int = 1024
    min_content_tokens: int = MIN_CONTENT_TOKENS

    def content_tokens(self, fixed_tokens: int) -> int:
        """What is left for content blocks once `fixed_tokens` (system prompt and
        instructions) are spent."""
        usable = int(self.window_tokens * (1 - MARGIN)) - MESSAGE_OVERHEAD_TOKENS
        return usable - self.answer_tokens - fixed_tokens

    def shrunk(self, limit_tokens: int | None = None) -> PromptBudget:
        """The budget for one more try after the model refused a prompt as too long:
        the window it reported, or a smaller share of this one."""
        window = int(self.window_tokens * SHRINK)
        if limit_tokens is not None and limit_tokens < self.window_tokens:
            window = min(window, limit_tokens)
        return PromptBudget(
            window_tokens=window,
            answer_tokens=self.answer_tokens,
            min_content_tokens=self.min_content_tokens,
        )
