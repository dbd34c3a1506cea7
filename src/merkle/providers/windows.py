"""How many tokens a provider's model reads and writes in one call.

A provider's `context_window_tokens` wins; otherwise the model's name is
looked up here (the longest known prefix), and an unknown model gets a
conservative window: a prompt built for a smaller window than the model
has is only shorter, one built for a larger window is refused or, worse,
silently cut by the server.
"""

from __future__ import annotations

from merkle.config import ProviderSettings

UNKNOWN_MODEL_WINDOW = 8_192
# The embedded provider reads anything; this bounds the work a prompt asks of it.
LOCAL_WINDOW = 128_000

# Model name prefixes and their windows, as their makers document them.
KNOWN_WINDOWS: dict[str, int] = {
    "gpt-3.5-turbo": 16_385,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-4-turbo": 128_000,
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4": 200_000,
    "claude": 200_000,
    "llama3": 8_192,
    "llama-3": 8_192,
    "llama3.1": 131_072,
    "llama3.2": 131_072,
    "llama3.3": 131_072,
    "llama-3.1": 131_072,
    "llama-3.2": 131_072,
    "llama-3.3": 131_072,
    "qwen2.5": 32_768,
    "qwen3": 32_768,
    "mistral": 32_768,
    "mixtral": 32_768,
    "gemma2": 8_192,
    "gemma3": 131_072,
    "phi3": 4_096,
    "deepseek": 65_536,
}


def _model_name(model: str) -> str:
    # "meta-llama/Llama-3.1-8B" and "ollama:llama3.1:8b" name the model last.
    return model.lower().rsplit("/", 1)[-1].removeprefix("ollama:")


def context_window(settings: ProviderSettings) -> int:
    """The window, in tokens, of the model `settings` names."""
    if settings.context_window_tokens is not None:
        return settings.context_window_tokens
    if settings.type == "local":
        return LOCAL_WINDOW
    name = _model_name(settings.model or "")
    known = [prefix for prefix in KNOWN_WINDOWS if name.startswith(prefix)]
    return KNOWN_WINDOWS[max(known, key=len)] if known else UNKNOWN_MODEL_WINDOW
