"""The provider registry: the built-in `local` provider and the configured ones."""

from __future__ import annotations

from collections.abc import Mapping

from merkle.config import ProviderSettings
from merkle.errors import UsageError
from merkle.providers.base import Provider

# The embedded provider's answers cost nothing: room to name every child of a
# directory of hundreds.
LOCAL_MAX_TOKENS = 8192
LOCAL = ProviderSettings(
    name="local",
    type="local",
    model="merkle-local-1",
    timeout_s=60.0,
    max_tokens=LOCAL_MAX_TOKENS,
)


def build_provider(settings: ProviderSettings) -> Provider:
    """A ready provider for `settings`.

    The SDK-backed clients are imported here, when one is needed: importing an
    SDK takes longer than most commands run.
    """
    if settings.type == "openai":
        from merkle.providers.openai_provider import OpenAIProvider

        return OpenAIProvider(settings)
    if settings.type == "anthropic":
        from merkle.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(settings)
    from merkle.providers.local import LocalProvider

    return LocalProvider(settings)


class ProviderRegistry:
    """Every provider by name: the built-in `local`, then the configured ones."""

    def __init__(self, configured: Mapping[str, ProviderSettings]) -> None:
        self._providers = {LOCAL.name: LOCAL, **configured}

    def all(self) -> list[ProviderSettings]:
        """Every provider's settings, by name."""
        return [self._providers[name] for name in sorted(self._providers)]

    def settings(self, name: str) -> ProviderSettings:
        """The settings of the provider called `name`."""
        found = self._providers.get(name)
        if found is None:
            known = ", ".join(sorted(self._providers))
            raise UsageError(
                f"unknown provider {name}",
                hint=f"known providers: {known}; declare others under [providers.NAME]"
                " in .merkle/config.toml",
            )
        return found

    def build(self, name: str) -> Provider:
        """A ready provider called `name`."""
        return build_provider(self.settings(name))
