"""The frame metadata contract (C3), key by key: what it accepts, each rejection and its rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from merkle.errors import ContractViolation, MetadataRejected
from merkle.metadata import FrameMetadata, Source, build_metadata, validate_metadata

MANUAL: dict[str, Any] = {"agent_id": "docs-writer", "frame_type": "context", "source": "manual"}
GENERATED: dict[str, Any] = {
    "agent_id": "docs-writer",
    "frame_type": "context",
    "source": "generated",
    "provider": "openai-main",
    "provider_type": "openai",
    "model": "gpt-4o-mini",
    "prompt_digest": "0123456789abcdef" * 4,
    "input_tokens": 1200,
    "output_tokens": 300,
    "attempts": 1,
}
CONTRACT_KEYS = [
    "agent_id",
    "frame_type",
    "source",
    "provider",
    "provider_type",
    "model",
    "prompt_digest",
    "input_tokens",
    "output_tokens",
    "attempts",
]

# Fake credentials of the real shapes, assembled so that no scanner mistakes this file for a leak.
OPENAI_KEY = "sk-" + "abcdefghijklmnopqrstuvwx1234"
OPENAI_PROJECT_KEY = "sk-" + "proj-" + "Abc123def456ghi789jkl012"
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def rejection(mapping: dict[str, Any]) -> MetadataRejected:
    with pytest.raises(MetadataRejected) as caught:
        validate_metadata(mapping)
    return caught.value


# -- accepted values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("agent_id", "docs-writer"),
        ("agent_id", "a"),
        ("agent_id", "Agent_2.v1"),
        ("agent_id", "x" * 64),
        ("frame_type", "context"),
        ("frame_type", "summary-v2"),
        ("frame_type", "9" * 64),
        ("provider", None),
        ("provider", "openai-main"),
        ("provider", "local"),
        ("provider_type", None),
        ("provider_type", "openai"),
        ("provider_type", "anthropic"),
        ("provider_type", "local"),
        ("model", None),
        ("model", "gpt-4o-mini"),
        ("model", "meta-llama/Llama-3.1-8B-Instruct"),
        ("model", "llama3.1:8b"),
        ("model", "m" * 200),
        ("prompt_digest", None),
        ("prompt_digest", "0" * 64),
        ("prompt_digest", "fedcba9876543210" * 4),
        ("input_tokens", None),
        ("input_tokens", 0),
        ("input_tokens", 10**9),
        ("output_tokens", None),
        ("output_tokens", 0),
        ("output_tokens", 10**9),
        ("attempts", 0),
        ("attempts", 1),
        ("attempts", 100),
    ],
)
def test_each_key_accepts_its_valid_values(key: str, value: object) -> None:
    metadata = validate_metadata({**MANUAL, key: value})

    assert getattr(metadata, key) == value


@pytest.mark.parametrize("value", ["manual", Source.MANUAL])
def test_source_accepts_its_value_or_the_enum_member(value: object) -> None:
    assert validate_metadata({**MANUAL, "source": value}).source is Source.MANUAL


def test_a_complete_generated_record_is_accepted_with_every_value_typed() -> None:
    metadata = validate_metadata(GENERATED)

    assert metadata.source is Source.GENERATED
    assert metadata.to_dict() == GENERATED


def test_keys_left_out_take_their_defaults() -> None:
    metadata = validate_metadata(MANUAL)

    assert metadata == FrameMetadata(
        agent_id="docs-writer", frame_type="context", source=Source.MANUAL
    )
    assert metadata.provider is None
    assert metadata.input_tokens is None
    assert metadata.attempts == 0


# -- rejections, key by key ------------------------------------------------------------

NOT_A_STRING = "must be a string"
NOT_AN_INTEGER = "must be an integer"
OUT_OF_RANGE = "must be between 0 and"
TOO_LONG = "at most 200"
LINE_BREAKS = "line breaks"
CREDENTIAL = "looks like a credential"
PATTERN = "must match"
ONE_OF = "must be one of"


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        # agent_id
        ("agent_id", 7, NOT_A_STRING),
        ("agent_id", None, NOT_A_STRING),
        ("agent_id", b"docs-writer", NOT_A_STRING),
        ("agent_id", "", PATTERN),
        ("agent_id", "-leading-dash", PATTERN),
        ("agent_id", "has space", PATTERN),
        ("agent_id", "dös-writer", PATTERN),
        ("agent_id", "x" * 65, PATTERN),
        ("agent_id", "x" * 201, TOO_LONG),
        ("agent_id", "docs\nwriter", LINE_BREAKS),
        ("agent_id", "docs\rwriter", LINE_BREAKS),
        ("agent_id", OPENAI_KEY, CREDENTIAL),
        # frame_type
        ("frame_type", 1.0, NOT_A_STRING),
        ("frame_type", ["context"], NOT_A_STRING),
        ("frame_type", "", PATTERN),
        ("frame_type", "context/summary", PATTERN),
        ("frame_type", "c" * 65, PATTERN),
        ("frame_type", "c" * 201, TOO_LONG),
        ("frame_type", "context\n", LINE_BREAKS),
        ("frame_type", GITHUB_TOKEN, CREDENTIAL),
        # source
        ("source", "auto", ONE_OF),
        ("source", "MANUAL", ONE_OF),
        ("source", 1, ONE_OF),
        ("source", None, ONE_OF),
        # provider
        ("provider", 3, NOT_A_STRING),
        ("provider", True, NOT_A_STRING),
        ("provider", "", PATTERN),
        ("provider", "my provider", PATTERN),
        ("provider", "p" * 65, PATTERN),
        ("provider", "p" * 201, TOO_LONG),
        ("provider", "openai\r\n", LINE_BREAKS),
        ("provider", AWS_KEY_ID, CREDENTIAL),
        # provider_type
        ("provider_type", "azure", ONE_OF),
        ("provider_type", "OpenAI", ONE_OF),
        ("provider_type", 1, NOT_A_STRING),
        ("provider_type", "openai\n", LINE_BREAKS),
        ("provider_type", "t" * 201, TOO_LONG),
        # model
        ("model", 42, NOT_A_STRING),
        ("model", True, NOT_A_STRING),
        ("model", {"name": "gpt"}, NOT_A_STRING),
        ("model", "m" * 201, TOO_LONG),
        ("model", "gpt-4o\nmini", LINE_BREAKS),
        ("model", OPENAI_PROJECT_KEY, CREDENTIAL),
        ("model", "Bearer abcdefghijklmnop1234", CREDENTIAL),
        ("model", "password=hunter22", CREDENTIAL),
        ("model", "gpt-4o api_key: abcd1234", CREDENTIAL),
        # prompt_digest
        ("prompt_digest", 64, NOT_A_STRING),
        ("prompt_digest", "A" * 64, PATTERN),
        ("prompt_digest", "0" * 63, PATTERN),
        ("prompt_digest", "0" * 65, PATTERN),
        ("prompt_digest", "g" * 64, PATTERN),
        ("prompt_digest", "Summarise the file below for a new engineer.", PATTERN),
        ("prompt_digest", "You are a documentation writer.\nSummarise:", LINE_BREAKS),
        ("prompt_digest", "0" * 201, TOO_LONG),
        # input_tokens
        ("input_tokens", True, NOT_AN_INTEGER),
        ("input_tokens", False, NOT_AN_INTEGER),
        ("input_tokens", 1.0, NOT_AN_INTEGER),
        ("input_tokens", "10", NOT_AN_INTEGER),
        ("input_tokens", -1, OUT_OF_RANGE),
        ("input_tokens", 10**9 + 1, OUT_OF_RANGE),
        # output_tokens
        ("output_tokens", True, NOT_AN_INTEGER),
        ("output_tokens", 2.5, NOT_AN_INTEGER),
        ("output_tokens", "300", NOT_AN_INTEGER),
        ("output_tokens", -5, OUT_OF_RANGE),
        ("output_tokens", 10**12, OUT_OF_RANGE),
        # attempts
        ("attempts", True, NOT_AN_INTEGER),
        ("attempts", None, NOT_AN_INTEGER),
        ("attempts", "1", NOT_AN_INTEGER),
        ("attempts", 1.0, NOT_AN_INTEGER),
        ("attempts", -1, OUT_OF_RANGE),
        ("attempts", 101, OUT_OF_RANGE),
    ],
)
def test_each_key_rejects_a_bad_value_naming_the_key_and_the_rule(
    key: str, value: object, rule: str
) -> None:
    error = rejection({**MANUAL, key: value})

    assert error.key == key
    assert rule in error.rule
    assert error.message.startswith(f"{key}: ")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("model", OPENAI_KEY),
        ("provider", AWS_KEY_ID),
        ("agent_id", GITHUB_TOKEN),
        ("model", "password=hunter22"),
    ],
)
def test_a_credential_is_named_by_its_rule_and_never_repeated_in_the_error(
    key: str, value: str
) -> None:
    error = rejection({**MANUAL, key: value})

    assert error.key == key
    assert "(" in error.rule  # the rule that matched, e.g. "(OpenAI-style API key)"
    assert value not in error.message
    assert value not in error.rule


def test_the_type_named_in_a_type_error_is_the_one_given() -> None:
    assert "not bool" in rejection({**MANUAL, "input_tokens": True}).rule
    assert "not float" in rejection({**MANUAL, "output_tokens": 1.5}).rule
    assert "not int" in rejection({**MANUAL, "model": 4}).rule


@pytest.mark.parametrize("key", ["temperature", "created_at", "duration_s", "Agent_ID", "notes"])
def test_an_unknown_key_is_rejected_and_the_allowed_keys_listed(key: str) -> None:
    error = rejection({**MANUAL, key: "x"})

    assert error.key == key
    assert "unknown key" in error.rule
    assert all(allowed in error.rule for allowed in CONTRACT_KEYS)


@pytest.mark.parametrize(
    "key", ["prompt", "messages", "system_prompt", "user_prompt", "prompt_text"]
)
@pytest.mark.parametrize("value", ["Summarise this file.", None, [{"role": "user"}]])
def test_a_prompt_key_is_rejected_whatever_its_value(key: str, value: object) -> None:
    error = rejection({**MANUAL, key: value})

    assert error.key == key
    assert "prompt text is never stored" in error.rule
    assert "prompt_digest" in error.rule


@pytest.mark.parametrize("key", ["agent_id", "frame_type", "source"])
def test_a_missing_required_key_is_rejected(key: str) -> None:
    mapping = {k: v for k, v in MANUAL.items() if k != key}

    error = rejection(mapping)

    assert error.key == key
    assert error.rule == "is required"


def test_an_empty_mapping_is_rejected_for_its_first_required_key() -> None:
    assert rejection({}).key == "agent_id"


# -- the generated-source rule ---------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"provider": None},
        {"provider_type": None},
        {"attempts": 0},
    ],
)
def test_a_generated_frame_must_name_its_provider_and_count_its_attempts(
    change: dict[str, Any],
) -> None:
    error = rejection({**GENERATED, **change})

    assert error.key == "source"
    assert "provider" in error.rule
    assert "attempts" in error.rule


@pytest.mark.parametrize("left_out", ["provider", "provider_type", "attempts"])
def test_a_generated_frame_that_leaves_out_a_provider_key_is_rejected(left_out: str) -> None:
    mapping = {k: v for k, v in GENERATED.items() if k != left_out}

    assert rejection(mapping).key == "source"


def test_a_generated_frame_needs_no_model_digest_or_token_counts() -> None:
    minimal = {
        **MANUAL,
        "source": "generated",
        "provider": "local",
        "provider_type": "local",
        "attempts": 1,
    }

    assert validate_metadata(minimal).source is Source.GENERATED


def test_a_manual_frame_needs_no_provider() -> None:
    assert validate_metadata({**MANUAL, "attempts": 0}).provider is None


# -- the builder and the record --------------------------------------------------------


def test_the_builder_returns_what_the_policy_returns_for_the_same_values() -> None:
    built = build_metadata(
        agent_id="docs-writer",
        frame_type="context",
        source=Source.GENERATED,
        provider="openai-main",
        provider_type="openai",
        model="gpt-4o-mini",
        prompt_digest="0123456789abcdef" * 4,
        input_tokens=1200,
        output_tokens=300,
        attempts=1,
    )

    assert built == validate_metadata(GENERATED)


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        ({"model": OPENAI_KEY}, "model"),
        ({"agent_id": "bad agent"}, "agent_id"),
        ({"input_tokens": -1}, "input_tokens"),
        ({"attempts": True}, "attempts"),
        ({"source": Source.GENERATED}, "source"),
    ],
)
def test_the_builder_enforces_the_policy(arguments: dict[str, Any], key: str) -> None:
    base: dict[str, Any] = {
        "agent_id": "docs-writer",
        "frame_type": "context",
        "source": Source.MANUAL,
    }

    with pytest.raises(MetadataRejected) as caught:
        build_metadata(**{**base, **arguments})

    assert caught.value.key == key


def test_a_rejection_is_a_contract_violation_of_bad_input() -> None:
    error = rejection({**MANUAL, "model": 1})

    assert isinstance(error, ContractViolation)
    assert error.exit_code == 2


def test_to_dict_has_every_contract_key_in_order_and_round_trips() -> None:
    metadata = validate_metadata(GENERATED)

    assert list(metadata.to_dict()) == CONTRACT_KEYS
    assert validate_metadata(metadata.to_dict()) == metadata
    assert validate_metadata(validate_metadata(MANUAL).to_dict()) == validate_metadata(MANUAL)


def test_canonical_json_is_sorted_compact_and_equal_for_equal_records() -> None:
    metadata = validate_metadata(GENERATED)
    reordered = validate_metadata(dict(reversed(list(GENERATED.items()))))

    text = metadata.canonical_json()

    assert text == reordered.canonical_json()
    assert " " not in text
    assert list(json.loads(text)) == sorted(CONTRACT_KEYS)
    assert json.loads(text) == metadata.to_dict()
    assert validate_metadata(json.loads(text)) == metadata
