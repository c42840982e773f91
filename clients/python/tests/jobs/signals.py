"""A job that reports the signal it gets and exits with 128 + its number, as a shell would."""

import os
import signal
import sys
import time


def handler(signum: int, _frame: object) -> None:
    print(f"got {signal.Signals(signum).name}", flush=True)
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, handler)
signal.signal(signal.SIGINT, handler)
print(f"ready {os.getpid()}", flush=True)
for _ in range(600):
    time.sleep(0.1)
sys.exit(1)
