"""Generation unit C3: the metadata of a generated frame, through the metadata contract."""

from __future__ import annotations

from merkle.context.generation.provider_call import ProviderRequest, ProviderResponse
from merkle.context.queue import FrameRequest
from merkle.metadata import FrameMetadata, Source, build_metadata


def generated_metadata(
    request: FrameRequest,
    call: ProviderRequest,
    response: ProviderResponse,
    *,
    prompt_digest: str,
    attempt: int,
    sources_digest: str | None = None,
) -> FrameMetadata:
    """The typed metadata of a frame generated for `request`: who, how, a digest of the
    prompt (never its text), token counts and the attempt that succeeded."""
    return build_metadata(
        agent_id=request.agent_id,
        frame_type=request.frame_type,
        source=Source.GENERATED,
        provider=call.provider_name,
        provider_type=call.provider_type,
        model=response.model,
        prompt_digest=prompt_digest,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        attempts=attempt,
        sources_digest=sources_digest,
    )
