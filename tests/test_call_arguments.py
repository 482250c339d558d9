"""A call's keyword arguments are checked before anything is sent: ranges as
LLMConfig checks them, misspelt names, values JSON cannot encode; servers'
own parameters and ``extra_body`` still go through."""

from __future__ import annotations

import pytest

from llmpipe import LLM, OMIT, AsyncLLM, LLMConfig
from llmpipe.wire.arguments import edit_distance, likely_meant

HI = [{"role": "user", "content": "hi"}]

SAME_AS_CONFIG = [
    ("temperature", "hot"),
    ("temperature", 5),
    ("temperature", float("nan")),
    ("max_tokens", 0),
    ("max_tokens", 2.5),
    ("max_retries", -1),
    ("max_retries", "3"),
    ("timeout", -1),
    ("timeout", 0),
    ("deadline", 0),
]


@pytest.mark.parametrize(("name", "value"), SAME_AS_CONFIG)
async def test_a_bad_per_call_option_fails_with_the_config_s_message(
    llm_server, config, name, value
):
    with pytest.raises(ValueError, match=f"^LLMConfig.{name} ") as from_config:
        LLMConfig(**{name: value})
    async with AsyncLLM(config) as llm:
        with pytest.raises(ValueError, match=f"^{name} ") as from_call:
            await llm.chat_completion(HI, **{name: value})
    assert str(from_call.value) == str(from_config.value).removeprefix("LLMConfig.")
    assert llm_server.requests == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("top_p", 1.5, "top_p must be a finite number between 0.0 and 1.0, got 1.5"),
        ("n", 0, "n must be an integer >= 1, got 0"),
        ("presence_penalty", -3, "presence_penalty must be a finite number between -2.0 and 2.0"),
        ("frequency_penalty", "x", "frequency_penalty must be a finite number between -2.0"),
        ("max_completion_tokens", -1, "max_completion_tokens must be an integer >= 1, got -1"),
        ("first_event_timeout", -2, "first_event_timeout must be a finite number > 0, got -2"),
        ("idle_timeout", "1", "idle_timeout must be a finite number > 0, got '1'"),
        ("cache", "yes", "cache must be True or False, got 'yes'"),
        ("tag", "", "tag must be a non-empty string, got ''"),
        ("model", 4, "model must be a non-empty string, got 4"),
        ("extra_headers", {"X-A": "1\n"}, "extra_headers['X-A'] contains a control character"),
    ],
)
async def test_a_bad_body_field_or_option_fails_before_sending(
    llm_server, config, name, value, message
):
    async with AsyncLLM(config) as llm:
        with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("(", r"\(")):
            await llm.chat_completion(HI, **{name: value})
    assert llm_server.requests == []


async def test_text_completions_check_their_options_too(llm_server, config):
    async with AsyncLLM(config) as llm:
        with pytest.raises(ValueError, match=r"^temperature must be"):
            await llm.completion("x", temperature=3.0)
    assert llm_server.requests == []


async def test_embeddings_check_their_options_too(llm_server, config):
    async with AsyncLLM(config) as llm:
        with pytest.raises(ValueError, match=r"^timeout must be"):
            await llm.embeddings("x", timeout=-5)
    assert llm_server.requests == []


async def test_valid_per_call_options_are_sent(llm_server, config):
    async with AsyncLLM(config) as llm:
        await llm.chat_completion(HI, 0, 1, top_p=0.5, n=1, max_retries=0, timeout=5, tag="t")
    body = llm_server.requests[-1].json
    assert (body["temperature"], body["max_tokens"], body["top_p"]) == (0, 1, 0.5)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("max_token", "max_tokens"),
        ("temprature", "temperature"),
        ("stremm", "stream"),
        ("max_retires", "max_retries"),
        ("timout", "timeout"),
        ("extra_header", "extra_headers"),
        ("respones_format", "response_format"),
        ("top_kk", "top_k"),
    ],
)
async def test_a_misspelt_keyword_names_the_likely_one_and_extra_body(
    llm_server, config, typo, meant
):
    async with AsyncLLM(config) as llm:
        with pytest.raises(TypeError) as raised:
            await llm.chat_completion(HI, **{typo: 1})
    assert f"did you mean {meant!r}?" in str(raised.value)
    assert f"extra_body={{{typo!r}: ...}}" in str(raised.value)
    assert llm_server.requests == []


def test_the_sync_client_refuses_a_misspelt_keyword_too(llm_server, config):
    with LLM(config) as llm, pytest.raises(TypeError, match="did you mean 'max_tokens'"):
        llm.chat_completion(HI, max_token=5)
    assert llm_server.requests == []


# Sampling and request parameters of real servers, from their documentation:
# vLLM's "Extra parameters" of its OpenAI-compatible server, llama.cpp's
# server README (/completion options), Ollama's modelfile/API options,
# Hugging Face TGI's generate parameters, SGLang's sampling parameters,
# OpenRouter's and text-generation-webui's extra samplers.
REAL_SERVER_PARAMETERS = {
    "vllm": [
        "top_k", "min_p", "repetition_penalty", "length_penalty", "use_beam_search",
        "stop_token_ids", "include_stop_str_in_output", "ignore_eos", "min_tokens",
        "skip_special_tokens", "spaces_between_special_tokens", "truncate_prompt_tokens",
        "prompt_logprobs", "allowed_token_ids", "bad_words", "guided_json", "guided_regex",
        "guided_choice", "guided_grammar", "guided_decoding_backend",
        "guided_whitespace_pattern", "add_generation_prompt", "continue_final_message",
        "add_special_tokens", "chat_template", "chat_template_kwargs", "priority",
        "return_tokens_as_token_ids", "structured_outputs", "cache_salt", "best_of", "seed",
    ],
    "llama.cpp": [
        "n_predict", "top_k", "min_p", "typical_p", "repeat_penalty", "repeat_last_n",
        "penalize_nl", "mirostat", "mirostat_tau", "mirostat_eta", "grammar", "json_schema",
        "ignore_eos", "n_probs", "min_keep", "cache_prompt", "samplers", "dynatemp_range",
        "dynatemp_exponent", "dry_multiplier", "dry_base", "dry_allowed_length",
        "dry_penalty_last_n", "dry_sequence_breakers", "xtc_probability", "xtc_threshold",
        "top_n_sigma", "id_slot", "n_keep", "t_max_predict_ms", "post_sampling_probs",
        "timings_per_token", "return_tokens", "tfs_z", "lora",
    ],
    "ollama": [
        "num_ctx", "num_predict", "num_keep", "repeat_last_n", "repeat_penalty", "tfs_z",
        "typical_p", "mirostat", "mirostat_eta", "mirostat_tau", "num_gpu", "num_thread",
        "num_batch", "main_gpu", "use_mmap", "keep_alive", "options", "format", "think",
        "min_p", "top_k", "low_vram", "numa",
    ],
    "tgi": [
        "do_sample", "max_new_tokens", "repetition_penalty", "return_full_text", "top_k",
        "truncate", "typical_p", "watermark", "decoder_input_details", "details",
        "top_n_tokens", "stop_sequences",
    ],
    "sglang": [
        "min_new_tokens", "regex", "ebnf", "json_schema", "no_stop_trim", "lora_path",
        "return_hidden_states", "separate_reasoning", "stream_reasoning",
        "custom_logit_processor", "session_params",
    ],
    "gateways and webui": [
        "top_a", "transforms", "provider", "reasoning", "include_reasoning", "models",
        "temperature_last", "smoothing_factor", "eta_cutoff", "epsilon_cutoff",
        "typical", "tfs", "banned_strings", "add_bos_token", "ban_eos_token", "safe_prompt",
        "random_seed", "mock_response",
    ],
}  # fmt: skip


@pytest.mark.parametrize("server", sorted(REAL_SERVER_PARAMETERS))
async def test_real_servers_parameters_are_forwarded_unchanged(llm_server, config, server):
    given = {name: 1 for name in REAL_SERVER_PARAMETERS[server]}
    async with AsyncLLM(config) as llm:
        await llm.chat_completion(HI, **given)
    body = llm_server.requests[-1].json
    assert {name: body.get(name) for name in given} == given


async def test_an_unknown_keyword_far_from_every_known_one_is_forwarded(llm_server, config):
    async with AsyncLLM(config) as llm:
        await llm.chat_completion(HI, my_gateway_flag="on")
    assert llm_server.requests[-1].json["my_gateway_flag"] == "on"


async def test_extra_body_goes_into_the_body_as_is_last(llm_server, config):
    async with AsyncLLM(config) as llm:
        await llm.chat_completion(HI, extra_body={"max_token": 5, "temperature": 9})
    body = llm_server.requests[-1].json
    assert (body["max_token"], body["temperature"], "extra_body" in body) == (5, 9, False)


async def test_extra_body_works_for_embeddings(llm_server, config):
    async with AsyncLLM(config) as llm:
        await llm.embeddings("x", extra_body={"truncate_prompt_tokens": 8})
    assert llm_server.requests[-1].json["truncate_prompt_tokens"] == 8


async def test_extra_body_that_is_not_a_dict_is_refused(llm_server, config):
    async with AsyncLLM(config) as llm:
        with pytest.raises(TypeError, match="extra_body must be a dict"):
            await llm.chat_completion(HI, extra_body=[("a", 1)])
    assert llm_server.requests == []


async def test_a_set_inside_an_argument_is_named_with_its_path(llm_server, config):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {...}}}]
    async with AsyncLLM(config) as llm:
        with pytest.raises(TypeError) as raised:
            await llm.chat_completion(HI, tools=tools)
    assert "keyword argument 'tools' cannot be sent as JSON" in str(raised.value)
    assert "tools[0]['function']['parameters'] has type set" in str(raised.value)
    assert llm_server.requests == []


async def test_an_object_argument_is_named_with_its_type(llm_server, config):
    class Schema:
        pass

    async with AsyncLLM(config) as llm:
        with pytest.raises(TypeError, match=r"'guided_json' cannot .* guided_json has type Schema"):
            await llm.chat_completion(HI, guided_json=Schema())
    assert llm_server.requests == []


async def test_an_argument_that_holds_itself_is_named(llm_server, config):
    loop: list[object] = []
    loop.append(loop)
    async with AsyncLLM(config) as llm:
        with pytest.raises(TypeError, match=r"'stop' cannot .* stop\[0\] holds itself"):
            await llm.chat_completion(HI, stop=loop)
    assert llm_server.requests == []


async def test_omit_is_not_checked_as_a_value(llm_server, config):
    async with AsyncLLM(config) as llm:
        await llm.chat_completion(HI, temperature=OMIT, top_p=OMIT)
    assert "temperature" not in llm_server.requests[-1].json


def test_names_shorter_than_four_letters_are_not_guessed_at():
    assert likely_meant("tap") is None


def test_a_swap_of_two_letters_is_one_edit():
    assert edit_distance("tempreature", "temperature", 2) == 1


def test_a_name_two_edits_off_is_not_guessed_when_short():
    assert likely_meant("stremmm") is None


async def test_list_models_checks_its_timeout(llm_server, config):
    async with AsyncLLM(config) as llm:
        with pytest.raises(ValueError, match=r"^timeout must be a finite number > 0"):
            await llm.list_models(timeout=0)
    assert llm_server.requests == []
