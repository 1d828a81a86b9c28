"""What the peer scripts share: loading a trace the way `duet-bench` does, the Python call
overhead that every peer figure includes, and printing one JSON object."""
import gzip, json, statistics, sys, time


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def patches(trace):
    return [patch for txn in trace["txns"] for patch in txn["patches"]]


def _noop(*_):
    return None


class _NoopContext:
    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False


def call_overhead_ms(trace, mode, per_op_context=False, runs=3):
    """Milliseconds of CPU spent on the same Python-level calls a replay makes (one per delete,
    one per insert, one commit or one context manager per op in change-per-op), with no CRDT
    behind them: the part of a peer's figure that is Python, not the peer."""
    context = _NoopContext()

    def once():
        start = time.thread_time()
        for txn in trace["txns"]:
            for pos, deleted, inserted in txn["patches"]:
                if mode == "change-per-op":
                    if per_op_context:
                        with context:
                            pass
                    else:
                        _noop()
                if deleted:
                    _noop(pos, deleted)
                if inserted:
                    _noop(pos, inserted)
        return (time.thread_time() - start) * 1000

    return statistics.median(once() for _ in range(runs))


def report(figures, ok):
    print(json.dumps(figures, sort_keys=True))
    sys.exit(0 if ok else 1)
