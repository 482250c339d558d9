"""After os.fork() (gunicorn with preload, multiprocessing's fork, Celery) each
process talks over its own connections: no reply crosses between them, and a
child, however it ends, leaves the parent's connections working.

The forking runs in a fresh interpreter (a subprocess), so no thread of the
test run is copied into the children.
"""

from __future__ import annotations

import json
import subprocess
import sys

from llmpipe.testing import LLMServer

SYNC = r"""
import json, os, sys
from llmpipe import LLM, LLMConfig

llm = LLM(LLMConfig(base_url=sys.argv[1], max_retries=0, timeout=10))

def ask(tag):
    return llm.chat_completion([{"role": "user", "content": tag}]).choices[0].message.content

def all_mine(prefix, count):
    return all(ask(f"{prefix}-{i}") == f"Echo: {prefix}-{i}" for i in range(count))

ask("warm-up")  # the parent's pool now holds a kept-alive connection
children = []
for ending in ("close-and-_exit", "exit-without-close", "never-used"):
    pid = os.fork()
    if pid == 0:
        ok = True if ending == "never-used" else all_mine(ending, 30)
        if ending == "close-and-_exit":
            llm.close()
            os._exit(0 if ok else 1)
        sys.exit(0 if ok else 1)  # atexit and finalizers run, as in a gunicorn worker
    children.append(pid)
parent_ok = all_mine("parent", 60)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
after = all_mine("parent-after", 5)
llm.close()
print(json.dumps({"parent": parent_ok, "children": codes, "after": after}))
"""

ASYNC = r"""
import asyncio, json, os, sys
from llmpipe import AsyncLLM, LLMConfig

llm = AsyncLLM(LLMConfig(base_url=sys.argv[1], max_retries=0, timeout=10))

async def all_mine(prefix, count):
    for i in range(count):
        reply = await llm.chat_completion([{"role": "user", "content": f"{prefix}-{i}"}])
        if reply.choices[0].message.content != f"Echo: {prefix}-{i}":
            return False
    return True

loop = asyncio.new_event_loop()  # the parent's loop lives on, between its calls
loop.run_until_complete(all_mine("warm-up", 1))
pid = os.fork()
if pid == 0:
    ok = asyncio.run(all_mine("child", 30)) and asyncio.run(all_mine("child-again", 5))
    asyncio.run(llm.close())
    os._exit(0 if ok else 1)
parent_ok = loop.run_until_complete(all_mine("parent", 60))
code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
after = loop.run_until_complete(all_mine("parent-after", 5))
loop.run_until_complete(llm.close())
loop.close()
print(json.dumps({"parent": parent_ok, "children": [code], "after": after}))
"""


def run(script: str, server: LLMServer) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, server.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_sync_llm_shared_across_fork_keeps_every_reply_in_its_own_process(llm_server):
    outcome = run(SYNC, llm_server)
    assert outcome == {"parent": True, "children": [0, 0, 0], "after": True}
    contents = [r.json["messages"][-1]["content"] for r in llm_server.requests]
    assert len(contents) == 1 + 30 + 30 + 60 + 5  # every call reached the server once


def test_async_llm_shared_across_fork_keeps_every_reply_in_its_own_process(llm_server):
    outcome = run(ASYNC, llm_server)
    assert outcome == {"parent": True, "children": [0], "after": True}
