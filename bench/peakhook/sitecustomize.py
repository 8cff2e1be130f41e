"""Peak memory from inside every Python process of a rehearsal phase (bench/gpu_rehearsal.sh
puts this folder on PYTHONPATH and sets SWIFTKIT_PEAK_DIR): torch.cuda.max_memory_allocated
and max_memory_reserved when CUDA was used, and the process's peak RSS, written to
SWIFTKIT_PEAK_DIR/peak-PID.json every second and at exit (a server stopped by a signal skips
atexit; the last write survives). Does nothing without SWIFTKIT_PEAK_DIR.
"""

import atexit
import json
import os
import resource
import sys
import threading

_DIR = os.environ.get("SWIFTKIT_PEAK_DIR")


def _write() -> None:
    out = {
        "pid": os.getpid(),
        "argv": " ".join(sys.argv)[:300],
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            out["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
            out["cuda_max_reserved_mib"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
    except Exception:  # a hook must never break the process it watches
        pass
    path = os.path.join(_DIR, f"peak-{os.getpid()}.json")
    try:
        with open(path + ".tmp", "w") as f:
            json.dump(out, f)
        os.replace(path + ".tmp", path)
    except OSError:
        pass


def _every_second() -> None:
    while True:
        threading.Event().wait(1.0)
        _write()


if _DIR:
    os.makedirs(_DIR, exist_ok=True)
    atexit.register(_write)
    threading.Thread(target=_every_second, daemon=True, name="swiftkit-peak").start()
