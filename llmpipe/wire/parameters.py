"""The request-body parameters llmpipe knows by name, and where each comes from.

A keyword argument named here is sent without a second look. One that is
not, but is a small edit away from one that is (``max_token``), is most
likely a typo and is refused (``wire/arguments.py``); anything else is
forwarded as is, for servers with parameters of their own. Every real
parameter of the common servers must be listed, or one of them that happens
to be spelt like another (OpenRouter's ``top_a`` next to ``top_p``) would be
refused. A server's newer parameter can always be sent with ``extra_body=``.
"""

from __future__ import annotations

__all__ = ["KNOWN_PARAMETERS", "OPENAI_PARAMETERS", "SERVER_PARAMETERS"]

OPENAI_PARAMETERS = frozenset(
    {
        # chat/completions
        "messages", "model", "audio", "frequency_penalty", "function_call", "functions",
        "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
        "modalities", "n", "parallel_tool_calls", "prediction", "presence_penalty",
        "prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier", "seed",
        "service_tier", "stop", "store", "stream", "stream_options", "temperature",
        "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
        "web_search_options",
        # completions
        "prompt", "best_of", "echo", "suffix",
        # embeddings
        "input", "dimensions", "encoding_format",
    }
)  # fmt: skip
"""The OpenAI API's request fields for the three endpoints llmpipe models."""

SERVER_PARAMETERS = frozenset(
    {
        # vLLM's sampling and request extensions
        "top_k", "min_p", "repetition_penalty", "length_penalty", "use_beam_search",
        "stop_token_ids", "include_stop_str_in_output", "ignore_eos", "min_tokens",
        "skip_special_tokens", "spaces_between_special_tokens", "truncate_prompt_tokens",
        "prompt_logprobs", "allowed_token_ids", "bad_words", "add_generation_prompt",
        "continue_final_message", "add_special_tokens", "documents", "chat_template",
        "chat_template_kwargs", "mm_processor_kwargs", "guided_json", "guided_regex",
        "guided_choice", "guided_grammar", "guided_decoding_backend",
        "guided_whitespace_pattern", "structured_outputs", "priority", "request_id",
        "logits_processors", "return_tokens_as_token_ids", "return_token_ids", "cache_salt",
        "kv_transfer_params", "vllm_xargs", "prompt_embeds", "thinking_token_budget",
        # llama.cpp's server
        "n_predict", "typical_p", "tfs_z", "repeat_penalty", "repeat_last_n", "penalize_nl",
        "mirostat", "mirostat_tau", "mirostat_eta", "grammar", "json_schema", "n_probs",
        "min_keep", "cache_prompt", "samplers", "dynatemp_range", "dynatemp_exponent",
        "dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n",
        "dry_sequence_breakers", "xtc_probability", "xtc_threshold", "top_n_sigma", "id_slot",
        "slot_id", "t_max_predict_ms", "n_keep", "n_indent", "n_cmpl", "return_tokens",
        "post_sampling_probs", "timings_per_token", "lora", "image_data", "return_progress",
        "reasoning_format", "thinking_forced_open", "parse_tool_calls",
        # Ollama's (its native options, which its OpenAI API also reads)
        "num_ctx", "num_predict", "num_keep", "num_batch", "num_gpu", "main_gpu", "num_thread",
        "use_mmap", "use_mlock", "numa", "low_vram", "keep_alive", "options", "format",
        "think", "raw", "template", "system", "context", "images",
        # Hugging Face TGI
        "do_sample", "max_new_tokens", "watermark", "decoder_input_details", "details",
        "truncate", "return_full_text", "top_n_tokens", "stop_sequences", "grammar_type",
        # OpenRouter, LiteLLM's proxy and other gateways
        "top_a", "transforms", "models", "route", "provider", "reasoning", "include_reasoning",
        "usage", "plugins", "mock_response", "num_retries", "fallbacks", "caching", "tags",
        "guardrails", "thinking", "safe_prompt", "random_seed", "prompt_mode",
        "context_length_exceeded_behavior", "safety_model", "mirostat_lr", "mirostat_target",
        "prompt_truncate_len", "perf_metrics_in_response", "ttl", "draft_model",
        # SGLang
        "regex", "ebnf", "min_new_tokens", "no_stop_trim", "lora_path", "session_params",
        "return_hidden_states", "separate_reasoning", "stream_reasoning",
        "custom_logit_processor",
        # text-generation-webui, TabbyAPI, Aphrodite, KoboldCpp
        "temperature_last", "smoothing_factor", "smoothing_curve", "typical", "tfs",
        "eta_cutoff", "epsilon_cutoff", "banned_strings", "banned_tokens", "token_healing",
        "skew", "negative_prompt", "regex_pattern", "grammar_string", "add_bos_token",
        "ban_eos_token", "rep_pen", "rep_pen_range", "max_length", "min_length",
        "dynamic_temperature", "dynatemp_low", "dynatemp_high", "penalty_range",
    }
)  # fmt: skip
"""Body parameters of vLLM, llama.cpp, Ollama, TGI and the common gateways."""

KNOWN_PARAMETERS = OPENAI_PARAMETERS | SERVER_PARAMETERS
