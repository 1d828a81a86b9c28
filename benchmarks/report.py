#!/usr/bin/env python3
"""Turns the JSON lines `benchmarks/run` collects into the tables of BENCHMARKS.md: the goals of
issue #7 (G1–G9) with Duet, each peer and the limit side by side and whether each goal holds,
then every editing trace in detail. Prints both and writes them between their markers.

Usage: report.py RESULTS RUNS [BENCHMARKS.md | -]   (- prints only)
"""
import datetime, json, os, platform, re, subprocess, sys

KB = 1000
MiB = 1 << 20


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def heading(runs):
    git = lambda *args: subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return (f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores ({cpu_model()}), "
            f"commit {commit}{' with uncommitted changes' if dirty else ''}, medians of {runs} fresh runs")


def load(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    traces = {(r["trace"], r["mode"]): r for r in rows if r["kind"] == "trace"}
    single = {r["kind"]: r for r in rows if r["kind"] != "trace"}
    concurrent = {r["trace"]: r for r in rows if r["kind"] == "concurrent"}
    return traces, single, concurrent


def verdict(ok, text):
    if ok is None:
        return f"– {text}"
    return f"{'✓' if ok else '✗'} {text}"


def goals_table(traces, single, concurrent):
    rows = []
    na = "–"

    def add(number, name, duet, loro, yrs, limit, must, target, stretch):
        rows.append(f"| {number} | {name} | {duet} | {loro} | {yrs} | {limit} | {must} | {target} | {stretch} |")

    paper = traces.get(("automerge-paper", "change-per-op"))
    paper_one = traces.get(("automerge-paper", "one-change"))
    if paper and paper_one:
        d = paper["duet"]["cpuMilliseconds"]["median"]
        l, l1 = paper["loro"]["cpuMilliseconds"], paper_one["loro"]["cpuMilliseconds"]
        y = paper["yrs"].get("cpuMilliseconds")
        gap = paper["duet"]["gapBufferCPUMilliseconds"]["median"]
        add("G1", "automerge-paper, change per op, in memory (CPU ms)", f"**{d:.1f}**",
            f"{l:.1f} (one-change {l1:.1f})", f"{y:.0f}" if y else na, f"gap buffer {gap:.1f}",
            verdict(d <= l, f"≤ Loro: {d / l:.2f}×"),
            verdict(d <= 100 and d * 1.4 <= l1, f"≤ 100 ms and ≥ 1.4× faster than Loro one-change ({l1 / d:.2f}×)"),
            verdict(d <= 30, "≤ 30 ms"))

        others = [(name, r) for (name, mode), r in traces.items() if mode == "change-per-op" and name != "automerge-paper"]
        if others:
            ratios = [(r["duet"]["cpuMilliseconds"]["median"] / r["loro"]["cpuMilliseconds"], name) for name, r in others]
            floors = [(r["duet"]["cpuMilliseconds"]["median"] / r["duet"]["gapBufferCPUMilliseconds"]["median"], name) for name, r in others]
            yrs = [(r["duet"]["cpuMilliseconds"]["median"] / r["yrs"]["cpuMilliseconds"], name) for name, r in others if "cpuMilliseconds" in r["yrs"]]
            worst, worst_name = max(ratios)
            best, best_name = min(ratios)
            floor, floor_name = max(floors)
            add("G2", f"other sequential traces ({len(others)}), change per op: Duet ÷ peer",
                f"worst {worst:.2f}× Loro ({worst_name}), best {best:.2f}×", "1.00×",
                f"Duet at {max(yrs)[0]:.2f}× Yrs at worst" if yrs else na, f"Duet at ≤ {floor:.0f}× gap buffer ({floor_name})",
                verdict(worst <= 1, "≤ Loro on every trace"), verdict(worst <= 1 / 3, "≤ ⅓ of Loro"),
                verdict(floor <= 10, "≤ 10× a plain gap buffer"))

        stored = paper["duet"]["storedBytes"]
        canonical = paper["duet"]["encodedBytes"]
        loro_updates, loro_snapshot = paper["loro"]["encodedBytes"], paper["loro"].get("snapshotBytes", paper["loro"]["encodedBytes"])
        loro_best = min(loro_updates, loro_snapshot)
        yrs_bytes = paper["yrs"].get("encodedBytes")
        add("G3", "encoded full history of automerge-paper (KB)",
            f"**{stored / KB:.0f}** stored ({canonical / KB:.0f} canonical)",
            f"{loro_snapshot / KB:.0f} snapshot, {loro_updates / KB:.0f} updates", f"{yrs_bytes / KB:.0f}" if yrs_bytes else na,
            na,
            verdict(stored <= loro_best, f"≤ Loro ({loro_best / KB:.0f})"), verdict(stored <= 160 * KB, "≤ 160 KB"),
            verdict(stored <= 130 * KB, "≤ 130 KB"))

        load_ms = paper["duet"]["loadMilliseconds"]["median"]
        loro_import = paper["loro"]["importMilliseconds"]
        loro_snap = paper["loro"].get("snapshotImportMilliseconds")
        yrs_apply = paper["yrs"].get("importMilliseconds")
        add("G4", "decode that history and materialise the text (ms)", f"**{load_ms:.2f}** (stored snapshot)",
            f"{loro_import:.2f} updates" + (f", {loro_snap:.2f} snapshot" if loro_snap else ""),
            f"{yrs_apply:.2f}" if yrs_apply else na, na,
            verdict(load_ms <= loro_import, "≤ Loro updates"), verdict(load_ms <= 5, "≤ 5 ms"),
            verdict(load_ms <= 1, "≤ 1 ms from a snapshot"))

    merge = single.get("merge")
    if merge:
        d, l = merge["duet"]["mergeMilliseconds"]["median"], merge["loro"]["mergeMilliseconds"]
        y = merge.get("yrs", {}).get("mergeMilliseconds")
        add("G5", f"merge {merge['duet']['opsA'] // 1000}k + {merge['duet']['opsB'] // 1000}k concurrent ops (CPU ms)",
            f"**{d:.1f}**", f"{l:.1f}", f"{y:.1f}" if y is not None else na, na,
            verdict(d <= l and merge["duet"]["converged"], "≤ Loro"), verdict(d <= 10, "≤ 10 ms"), verdict(d <= 5, "≤ 5 ms"))

    ff, cs = concurrent.get("concurrent_friendsforever"), concurrent.get("concurrent_clownschool")
    if ff and cs:
        f, c = ff["duet"]["milliseconds"]["median"], cs["duet"]["milliseconds"]["median"]
        ok = ff["duet"]["contentMatched"] and cs["duet"]["contentMatched"]
        add("G6", "concurrent friendsforever / clownschool (ms, one replica per agent)", f"**{f:.1f} / {c:.1f}**", na, na, na,
            verdict(ok and f <= 650 and c <= 800, "≤ 650 / 800"), verdict(f <= 300 and c <= 400, "≤ 300 / 400"),
            verdict(max(f, c) <= 100, "≤ 100"))

    if paper:
        retained = paper["duet"]["retainedBytes"] / MiB
        add("G7", "memory for automerge-paper with history (MiB retained)", f"**{retained:.2f}**", na, na,
            f"the final text alone ≈ {paper['duet']['finalLength'] / MiB:.2f}",
            verdict(retained <= 10, "≤ 10"), verdict(retained <= 6, "≤ 6"), verdict(retained <= 4, "≤ 4"))

    crypto = single.get("crypto")
    if crypto:
        c = crypto["duet"]
        worst = max(c["sealSignRatio"], c["verifyOpenRatio"])
        add("G8", "DuetCrypto seal+sign / verify+open, 1 KiB (µs)",
            f"**{c['duetSealSignMicroseconds']:.2f} / {c['duetVerifyOpenMicroseconds']:.2f}**", na, na,
            f"raw libsodium {c['rawSealSignMicroseconds']:.2f} / {c['rawVerifyOpenMicroseconds']:.2f}",
            verdict(worst <= 1.5, f"≤ 1.5× raw ({c['sealSignRatio']:.2f}× / {c['verifyOpenRatio']:.2f}×)"),
            verdict(worst <= 1.2, "≤ 1.2×"), verdict(None, ""))

    sqlite = single.get("sqlite")
    if sqlite:
        s = sqlite["duet"]
        rate = s["duetChangesPerSecond"]["median"]
        add("G9", f"store append, group commit of {s['batch']:,} (changes/s)", f"**{rate / 1000:.0f}k**", na, na,
            f"raw SQLite {s['rawSameTableChangesPerSecond']['median'] / 1000:.0f}k same table, "
            f"{s['rawBareTableChangesPerSecond']['median'] / 1000:.0f}k bare",
            verdict(rate >= 100_000, "≥ 100k/s"), verdict(rate >= 250_000, "≥ 250k/s"),
            verdict(s["ratioToRawSameTable"] >= 0.8, f"≥ 80% of raw SQLite ({s['ratioToRawSameTable'] * 100:.0f}% same table, "
                    f"{s['ratioToRawBareTable'] * 100:.0f}% bare)"))

    header = ["| # | benchmark | Duet | Loro 1.17.1 | Yrs (pycrdt 0.14.13) | limit | must | target | stretch |",
              "|---|---|---:|---:|---:|---:|---|---|---|"]
    return "\n".join(header + rows)


def traces_table(traces, concurrent):
    lines = ["| trace | mode | Duet CPU ms | gap buffer ms | Loro CPU ms (Python calls) | Duet ÷ Loro | Yrs CPU ms (Python calls) | "
             "Duet stored KB (canonical) | Loro updates / snapshot KB | Yrs KB | Duet load ms | Loro import ms | Yrs apply ms | Duet retained MiB | matched |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for (trace, mode), r in traces.items():
        d, l, y = r["duet"], r["loro"], r["yrs"]
        ran = "cpuMilliseconds" in y
        yrs_name = " (ascii_)" if r.get("yrsAscii") else ""
        matched = d["contentMatched"] and l["contentMatched"] and y.get("contentMatched", True)
        lines.append(
            f"| {trace} | {mode} | {d['cpuMilliseconds']['median']:.1f} | {d['gapBufferCPUMilliseconds']['median']:.2f} | "
            f"{l['cpuMilliseconds']:.1f} ({l['pythonCallOverheadMilliseconds']:.1f}) | {d['cpuMilliseconds']['median'] / l['cpuMilliseconds']:.2f} | "
            + (f"{y['cpuMilliseconds']:.1f} ({y['pythonCallOverheadMilliseconds']:.1f}){yrs_name}" if ran else "– (non-ASCII, no ascii_ variant)") + " | "
            f"{d['storedBytes'] / KB:.0f} ({d['encodedBytes'] / KB:.0f}) | {l['encodedBytes'] / KB:.0f} / {l.get('snapshotBytes', 0) / KB:.0f} | "
            + (f"{y['encodedBytes'] / KB:.0f}" if ran else "–") + " | "
            f"{d['loadMilliseconds']['median']:.2f} | {l['importMilliseconds']:.2f} | " + (f"{y['importMilliseconds']:.2f}" if ran else "–") + " | "
            f"{d['retainedBytes'] / MiB:.2f} | {'yes' if matched else 'NO'} |")
    for trace, r in concurrent.items():
        d = r["duet"]
        lines.append(f"| {trace} | concurrent, one replica per agent | {d['milliseconds']['median']:.1f} (wall) | – | – | – | – | – | – | – | – | – | – | – | "
                     f"{'yes' if d['contentMatched'] else 'NO'} |")
    return "\n".join(lines)


def replace_block(text, name, block):
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    wrapped = f"{start}\n{block}{end}"
    if start in text:
        return re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: wrapped, text, flags=re.S)
    return text.rstrip("\n") + "\n\n" + wrapped + "\n"


def main():
    results, runs = sys.argv[1], sys.argv[2]
    path = sys.argv[3] if len(sys.argv) > 3 else "BENCHMARKS.md"
    traces, single, concurrent = load(results)
    head = heading(runs)
    command = "`benchmarks/run`"
    goals = (f"## Goals of #7: Duet, its peers and the limits, side by side\n\n_{head}. Command: {command}; "
             f"peers through their Python bindings, their figures include the Python calls (measured, in the trace table)._\n\n"
             f"{goals_table(traces, single, concurrent)}\n")
    detail = (f"## Editing traces: Duet, Loro 1.17.1 and Yrs (pycrdt 0.14.13) side by side\n\n_{head}. Command: {command}._\n\n"
              f"{traces_table(traces, concurrent)}\n")
    print(goals)
    print(detail)
    if path == "-":
        return
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    text = replace_block(text, "goals", goals)
    text = replace_block(text, "traces", detail)
    open(path, "w").write(text)


if __name__ == "__main__":
    main()
