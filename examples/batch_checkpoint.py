"""A batch with a checkpoint: every finished item is on disk as it completes,
so a second run (after a crash, a kill or Ctrl-C) sends only what is missing."""

import tempfile
from pathlib import Path

from llmpipe import LLM, LLMConfig


def main() -> None:
    config = LLMConfig.from_env()
    items = [[{"role": "user", "content": f"Summarise chapter {n}"}] for n in range(1, 9)]
    items.append({"messages": [{"role": "user", "content": "x"}], "model": "no-such-model"})
    with tempfile.TemporaryDirectory() as folder, LLM(config) as llm:
        checkpoint = Path(folder) / "results.jsonl"
        first = llm.batch_chat_completion(items, concurrency=4, checkpoint=checkpoint)
        ok = [r for r in first if r.ok]
        print(f"First run: {len(ok)} answered, {len(first) - len(ok)} failed, in input order")
        print(f"Item 3: {first[2].unwrap().choices[0].message.text}")
        failed = next(r for r in first if not r.ok)
        print(f"Item {failed.index} failed: {failed.error.type}")
        print(f"Checkpoint lines: {len(checkpoint.read_text().splitlines())}")
        sent_before = llm.get_request_count()
        second = llm.batch_chat_completion(
            items, concurrency=4, checkpoint=checkpoint, retry_failed=False
        )
        from_file = sum(r.from_checkpoint for r in second)
        print(
            f"Second run: {from_file} of {len(second)} from the checkpoint, "
            f"{llm.get_request_count() - sent_before} requests sent"
        )


if __name__ == "__main__":
    main()
