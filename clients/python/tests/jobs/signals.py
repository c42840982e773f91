"""A job that reports the signal it gets and exits with 128 + its number, as a shell would."""

import os
import signal
import sys
import time


def handler(signum: int, _frame: object) -> None:
    # os.write, not print: the signal may land while the "ready" line is still being flushed.
    os.write(1, f"got {signal.Signals(signum).name}\n".encode())
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, handler)
signal.signal(signal.SIGINT, handler)
print(f"ready {os.getpid()}", flush=True)
for _ in range(600):
    time.sleep(0.1)
sys.exit(1)
