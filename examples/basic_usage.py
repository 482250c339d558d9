"""The spec's basic usage with the sync client: setup, chat, completion, models,
the bookkeeping methods, and the context manager.

Run against any OpenAI-compatible server; for the bundled one:
    python -m llmpipe serve --port 8000 &
    LLMPIPE_BASE_URL=http://127.0.0.1:8000 python examples/basic_usage.py
"""

from llmpipe import LLM, LLMConfig, Message


def main() -> None:
    # The spec's settings; base_url, model and api_key come from LLMPIPE_* variables.
    config = LLMConfig.from_env(temperature=0.7, timeout=30, max_retries=3)
    print(f"Config: {config}")  # the repr masks the API key, so printing it is safe

    llm = LLM(config)
    messages = [
        Message(role="system", content="You are helpful."),
        Message(role="user", content="Hello!"),
    ]

    response = llm.chat_completion(messages)
    print(f"Chat: {response.choices[0].message.content}")

    completion = llm.completion(prompt="Once upon a time", max_tokens=100)
    print(f"Completion: {completion.choices[0].text.strip()}")

    models = llm.list_models()
    for model in models.data:
        print(f"Model: {model.id}")

    last = llm.get_last_response()
    print(f"Last response: {last.id if last else None} ({type(last).__name__})")
    print(f"Requests so far: {llm.get_request_count()}")

    llm.reset_session()  # a fresh connection pool; counters and last response cleared
    print(
        f"After reset_session: {llm.get_request_count()} requests, last={llm.get_last_response()}"
    )
    llm.close()

    # The context manager closes the client however the block ends.
    with LLM(config) as llm:
        response = llm.chat_completion(messages, temperature=0.2, max_tokens=150)
        print(f"In a with block: {response.choices[0].message.content}")
    print(f"Closed after the block: {llm.closed}")


if __name__ == "__main__":
    main()
