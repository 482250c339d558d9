"""llmpipe's benchmark harness (issue 4): ``make bench``, never part of ``make test``.

Every client runs in its own process against one local nginx; figures are
ratios to raw aiohttp, the practical floor. The modules, in the order a run
uses them:

    run.py        the command line; starts the servers, writes results.md
    plan.py       the cases and the quick/full settings
    server.py     nginx (config: nginx.conf) and the hold server (hold_server.py)
    runner.py     one client process per sample, interleaved; procs.py kills them
    relay.py      a chat/stream group's processes taking timed turns, paired in time
    child.py      inside a client process: warm-up, timed loop, one JSON line
    clients/      one module per library under test
    measure.py    CPU and RSS as a process reads them about itself
    imports.py    import time from fresh interpreters
    figures.py    samples to medians; targets.py the issue's targets
    report.py     the Markdown tables; describe.py the machine and method
    hotspots.py   py-spy on one client, for finding where the time goes
"""
