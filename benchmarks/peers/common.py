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


def merge_benchmark(peer, version, replica, export, load_update, apply_update, text_of, ascii_only=False):
    """The merge benchmark of `duet-bench merge`, for any peer: two documents each replay half of
    a trace's patches from empty (A the first half, B the second; positions clamped to the
    document's own text), then each applies the other's update. Times the two applications
    (thread CPU, medians of fresh runs) and reports one JSON object."""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    patch_list = patches(load(args.path))
    if ascii_only and not all(inserted.isascii() for _, _, inserted in patch_list):
        report({"peer": peer, "skipped": "non-ASCII trace: this peer's positions are UTF-8 bytes"}, True)
    half = len(patch_list) // 2
    update_a = export(replica(patch_list[:half], 1))
    update_b = export(replica(patch_list[half:], 2))
    times, converged = [], True
    for _ in range(args.runs):
        doc_a, doc_b = load_update(update_a), load_update(update_b)
        start = time.thread_time()
        apply_update(doc_a, update_b)
        apply_update(doc_b, update_a)
        times.append((time.thread_time() - start) * 1000)
        converged = converged and text_of(doc_a) == text_of(doc_b)
    report({"peer": peer, "version": version, "opsA": half, "opsB": len(patch_list) - half,
            "mergeMilliseconds": statistics.median(times), "mergeMin": min(times), "mergeMax": max(times),
            "converged": converged}, converged)


def clamp(pos, deleted, length):
    """A patch's position and deletion clamped to a document of `length` (the merge replicas
    each see only their half of the trace)."""
    pos = min(pos, length)
    return pos, min(deleted, length - pos)


def trace_benchmark(peer, version, replay, text_of, forms, per_op_context=False, ascii_only=False):
    """The replay benchmark of `duet-bench trace`, for any peer: `replay(trace, mode)` returns
    (doc, text), timed over fresh runs (thread CPU and wall); then each encoded form of the
    history — `forms` is a list of (key prefix, export(doc), load(bytes) -> text) — is measured
    and loaded into a fresh document. Reports one JSON object: `encodedBytes` and
    `importMilliseconds` for the first form, `<prefix>Bytes` and `<prefix>ImportMilliseconds`
    for the others, and the Python call overhead the figures include."""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--mode", default="change-per-op", choices=["change-per-op", "one-change"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trace = load(args.path)
    # A peer that counts positions in UTF-8 bytes replays ASCII traces only (benchmarks/run
    # hands it the ascii_ variant where there is one).
    if ascii_only and (not trace["endContent"].isascii()
                       or any(not inserted.isascii() for _, _, inserted in patches(trace))):
        report({"peer": peer, "mode": args.mode, "skipped": "non-ASCII trace: this peer's positions are UTF-8 bytes"}, True)
    cpu, wall = [], []
    loads = {prefix: [] for prefix, _, _ in forms}
    sizes = {}
    matched = True
    for _ in range(args.runs):
        start_cpu, start_wall = time.thread_time(), time.perf_counter()
        doc, text = replay(trace, args.mode)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start_wall) * 1000)
        matched = matched and text_of(text) == trace["endContent"]
        for prefix, export, load_form in forms:
            encoded = export(doc)
            sizes[prefix] = len(encoded)
            start = time.perf_counter()
            loaded = load_form(encoded)
            loads[prefix].append((time.perf_counter() - start) * 1000)
            matched = matched and loaded == trace["endContent"]
    figures = {
        "peer": peer, "version": version, "mode": args.mode,
        "cpuMilliseconds": statistics.median(cpu), "wallMilliseconds": statistics.median(wall),
        "cpuMin": min(cpu), "cpuMax": max(cpu),
        "pythonCallOverheadMilliseconds": call_overhead_ms(trace, args.mode, per_op_context=per_op_context),
        "contentMatched": matched,
    }
    for index, (prefix, _, _) in enumerate(forms):
        bytes_key, load_key = ("encodedBytes", "importMilliseconds") if index == 0 else (prefix + "Bytes", prefix + "ImportMilliseconds")
        figures[bytes_key] = sizes[prefix]
        figures[load_key] = statistics.median(loads[prefix])
    report(figures, matched)
