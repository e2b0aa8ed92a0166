#!/usr/bin/env python3
"""Turns one scripts/bench.sh run into docs/PERFORMANCE.md and the plot data.

Inputs: the Google Benchmark JSON (aggregates only: we use the medians), the
callgrind totals (scenario, K, events per iteration, instructions) and the
strace epoll_ctl counts. Every ratio divides two medians of the same run.
Times are process CPU time for the single-threaded scenarios (robust against
other processes on a shared machine) and wall-clock time for the two-thread
RemoteEndpoint scenarios (where waiting is the point).
"""
import argparse
import datetime
import json
import math
import platform
import os

LIBS = ["raw_epoll", "event_manager", "libevent", "libev", "libuv"]
LIB_TITLES = {"raw_epoll": "raw epoll", "event_manager": "event_manager", "libevent": "libevent",
              "libev": "libev", "libuv": "libuv"}
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
PIPE_SIZES = [100, 1000, 3000, 9000]


def load_medians(path):
    """run_name -> the median aggregate entry (times converted to ns)."""
    with open(path) as f:
        data = json.load(f)
    medians = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        scale = UNIT_NS[b.get("time_unit", "ns")]
        entry = dict(b)
        entry["real_ns"] = b["real_time"] * scale
        entry["cpu_ns"] = b["cpu_time"] * scale
        medians[b["run_name"]] = entry
    return data.get("context", {}), medians


def load_instructions(path):
    """scenario -> instructions per event, from K and 2K callgrind totals."""
    runs = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
                continue
            runs.setdefault(parts[0], []).append((int(parts[1]), int(parts[2]), int(parts[3])))
    result = {}
    for scenario, points in runs.items():
        points.sort()
        if len(points) < 2:
            continue
        (k1, events, total1), (k2, _, total2) = points[0], points[-1]
        result[scenario] = (total2 - total1) / ((k2 - k1) * events)
    return result


def load_syscalls(path):
    if not os.path.exists(path):
        return None
    points = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                points.append((int(parts[1]), int(parts[2])))
    points.sort()
    if len(points) < 2:
        return None
    (k1, n1), (k2, n2) = points[0], points[-1]
    return (n2 - n1) / (k2 - k1)


def load_timer_memory(path):
    """library -> (timers, bytes per timer with all armed, peak bytes per timer)."""
    result = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 4:
                    result[parts[0]] = (int(parts[1]), float(parts[2]), float(parts[3]))
    return result


def load_timer_syscalls(path):
    """scenario -> (syscalls per operation, earliest-deadline moves per operation), from K and 2K."""
    runs = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 4:
                    runs.setdefault(parts[0], []).append((int(parts[1]), int(parts[2]), int(parts[3])))
    result = {}
    for scenario, points in runs.items():
        points.sort()
        if len(points) < 2:
            continue
        (k1, n1, m1), (k2, n2, m2) = points[0], points[-1]
        result[scenario] = ((n2 - n1) / (k2 - k1), (m2 - m1) / (k2 - k1), n2 - n1, m2 - m1, k2 - k1)
    return result


TIMER_LIBS = ["event_manager", "libev", "libuv", "timerfd"]
TIMER_TITLES = {"event_manager": "event_manager", "event_manager_at": "event_manager, arm_timer_at()",
                "libev": "libev `ev_timer`", "libuv": "libuv `uv_timer_t`", "timerfd": "a TimerFd per timer"}
START_STOP_SIZES = [10, 10_000, 1_000_000]
PAUSE_FDS = [1, 10, 100]
TIMERS_BEGIN = "<!-- timers:begin (bench.sh BENCH_ONLY=timers rewrites this section) -->"
TIMERS_END = "<!-- timers:end -->"


def timer_section(r, instr, memory, syscalls, meta):
    """The timers (issue 9) and pause/resume (issue 10) section, as lines."""
    out = []
    w = out.append

    def t(name):
        return r.time(name)

    def per_timer(lib):
        name = f"timer_million/{lib}/iterations:1"
        n = r.counter(name, "timers")
        return None if t(name) is None or not n else t(name) / n

    def ahead(mine, peers):
        if mine is None or any(p is None for p in peers):
            return None
        return all(mine < p for p in peers)

    def fmt_ns(x):
        return "–" if x is None else fmt_time(x)

    million = {lib: per_timer(lib) for lib in TIMER_LIBS}
    churn = {lib: t(f"timer_churn/{lib}") for lib in ["event_manager", "event_manager_at", "libev", "libuv", "timerfd"]}
    start_stop = {(lib, n): t(f"timer_start_stop/{lib}/{n}")
                  for lib in ["event_manager", "libev", "libuv", "timerfd"] for n in START_STOP_SIZES}
    latency = {lib: (r.counter(f"timer_latency/{lib}/iterations:1", "p50_ns"),
                     r.counter(f"timer_latency/{lib}/iterations:1", "p99_ns"),
                     r.counter(f"timer_latency/{lib}/iterations:1", "max_ns"),
                     r.counter(f"timer_latency/{lib}/iterations:1", "early")) for lib in TIMER_LIBS}
    state_bytes = r.counter("timer_million/event_manager/iterations:1", "state_bytes_per_timer")
    churn_sys = syscalls.get("timer_churn/event_manager")

    w(TIMERS_BEGIN)
    w("## Timers and pause/resume")
    w("")
    w("event_manager's timers (all of a manager's timers in one heap, one timerfd) against libev's")
    w("`ev_timer`, libuv's `uv_timer_t` and the baseline they replace, one `TimerFd` per timer registered")
    w("with an event_manager subscriber and re-armed with `timerfd_settime` (10,000 of them at most: the")
    w("fd limit here is 20,000). Shapes and methods: `bench/timers.hpp`; times are medians of process CPU")
    w("time per operation, all libraries in one binary and one run.")
    w("")
    w(f"Measured {meta['date']}; load average {meta['load']} before, {meta['load_after']} after "
      f"(2 CPUs); {meta['repetitions']} repetitions, interleaved. Command: `{meta['command']}`.")
    w("")
    w("### Goals (issue 9 item 5, issue 10 item 7)")
    w("")
    w("| goal | measured | |")
    w("|---|---|---|")
    w(f"| million timers: ahead of libev and libuv (time per timer) | event_manager {fmt_ns(million['event_manager'])}, "
      f"libev {fmt_ns(million['libev'])}, libuv {fmt_ns(million['libuv'])} "
      f"| {verdict(ahead(million['event_manager'], [million['libev'], million['libuv']]))} |")
    w(f"| churn: ahead of libev and libuv (time per re-arm) | event_manager {fmt_ns(churn['event_manager'])} "
      f"(arm_timer_at(): {fmt_ns(churn['event_manager_at'])}), libev {fmt_ns(churn['libev'])}, "
      f"libuv {fmt_ns(churn['libuv'])} | {verdict(ahead(churn['event_manager'], [churn['libev'], churn['libuv']]))} |")
    for n in START_STOP_SIZES:
        w(f"| start/stop with {n:,} armed: ahead of libev and libuv | event_manager "
          f"{fmt_ns(start_stop[('event_manager', n)])}, libev {fmt_ns(start_stop[('libev', n)])}, libuv {fmt_ns(start_stop[('libuv', n)])} "
          f"| {verdict(ahead(start_stop[('event_manager', n)], [start_stop[('libev', n)], start_stop[('libuv', n)]]))} |")
    # "No faster than log n": from n1 to n2 others the cost may grow by log(n2)/log(n1), 10% noise allowed.
    growth = []
    for n1, n2 in ((10, 10_000), (10_000, 1_000_000)):
        a, b = start_stop[("event_manager", n1)], start_stop[("event_manager", n2)]
        growth.append(None if a is None or b is None else (b / a, math.log(n2) / math.log(n1)))
    log_ok = None if None in growth else all(g <= 1.10 * bound for g, bound in growth)
    w("| start/stop grows no faster than log n (×cost ≤ 1.1 × ×log n) | "
      + ", ".join("–" if g is None else f"{n1:,}→{n2:,}: {g[0]:.2f}× (log: {g[1]:.2f}×)"
                  for g, (n1, n2) in zip(growth, ((10, 10_000), (10_000, 1_000_000))))
      + f" | {verdict(log_ok)} |")
    for index, title in ((0, "p50"), (1, "p99")):
        mine = latency["event_manager"][index]
        w(f"| latency {title}: below libev and libuv | event_manager {fmt_ns(mine)}, libev {fmt_ns(latency['libev'][index])}, "
          f"libuv {fmt_ns(latency['libuv'][index])} "
          f"| {verdict(ahead(mine, [latency['libev'][index], latency['libuv'][index]]))} |")
    em_mem, ev_mem = memory.get("event_manager"), memory.get("libev")
    w(f"| peak heap bytes per timer ≤ libev's (million timers) | event_manager {fmt_num(em_mem[2] if em_mem else None)}, "
      f"libev {fmt_num(ev_mem[2] if ev_mem else None)} "
      f"| {verdict(None if not em_mem or not ev_mem else em_mem[2] <= ev_mem[2])} |")
    w(f"| ≤ 64 bytes of timer state per timer (heap share included) | {fmt_num(state_bytes, 0)} "
      f"| {verdict(None if state_bytes is None else state_bytes <= 64)} |")
    w(f"| 0 timerfd_settime per re-arm that does not move the earliest deadline | "
      + ("–" if churn_sys is None else f"{churn_sys[2]} timerfd_settime in {churn_sys[4]:,} re-arms, "
         f"{churn_sys[3]} of which moved the earliest deadline")
      + f" | {verdict(None if churn_sys is None else churn_sys[0] <= churn_sys[1])} |")
    pr = [syscalls.get(f"pause_resume/event_manager/{n}") for n in PAUSE_FDS]
    per_fd_each_way = [None if x is None else x[0] / (2 * n) for x, n in zip(pr, PAUSE_FDS)]
    w("| pause+resume: ≤ 1 epoll_ctl per fd each way | "
      + ", ".join(f"{n} fds: {fmt_num(x, 2)}" for n, x in zip(PAUSE_FDS, per_fd_each_way))
      + f" | {verdict(None if None in per_fd_each_way else all(x <= 1 for x in per_fd_each_way))} |")
    w("")

    w("### Million timers")
    w("")
    w("Start 1,000,000 one-shot timers, the timeout 1 ms longer every 1,000 (so ~1 s of deadlines), then run")
    w("the loop until all fired: libuv's `million_timers` shape. The per-timer storage each library asks of")
    w("its user (`TimerId`, `ev_timer`, `uv_timer_t`, `TimerFd`) is allocated inside the timed region and")
    w("counted in the bytes. The timerfd baseline runs 10,000 timers (10 per ms) for want of fds.")
    w("Heap bytes: `event_manager_timer_memory` replaces malloc and counts glibc chunks (usable size + header);")
    w("*peak* includes vector/realloc growth, where old and new blocks coexist. Kernel memory is not counted.")
    w("")
    w("| | " + " | ".join(TIMER_TITLES[lib] for lib in TIMER_LIBS) + " |")
    w("|---|---|---|---|---|")
    w("| CPU time per timer (start + fire) | " + " | ".join(fmt_ns(million[lib]) for lib in TIMER_LIBS) + " |")
    w("| heap bytes per timer, all armed | "
      + " | ".join(fmt_num(memory[lib][1]) if lib in memory else "–" for lib in TIMER_LIBS) + " |")
    w("| peak heap bytes per timer | "
      + " | ".join(fmt_num(memory[lib][2]) if lib in memory else "–" for lib in TIMER_LIBS) + " |")
    w("| user-space instructions per timer (callgrind, 50,000 → 100,000 timers) | "
      + " | ".join(fmt_num(instr.get(f"timer_million/{lib}"), 0) for lib in TIMER_LIBS[:3]) + " | – |")
    w("")

    w("### Churn: 10,000 idle timeouts, one re-armed per event")
    w("")
    w("Each event re-arms a random connection's timeout to now + 10 s (libev's `ev_timer_again` pattern),")
    w("outside the loop's run. libev and libuv use their loop's cached time, refreshed here once per 100 events")
    w("(`ev_now_update`, `uv_update_time`: what a loop iteration dispatching 100 events does); event_manager's")
    w("`arm_timer()` reads the clock on every call; *arm_timer_at()* keeps \"now\" as the peers do.")
    w("timerfd_settime calls per re-arm: strace over 20,000 and 40,000 `arm_timer()` re-arms, against the")
    w("number of them that moved the earliest deadline (counted by the program).")
    w("")
    cols = ["event_manager", "event_manager_at", "libev", "libuv", "timerfd"]
    w("| | " + " | ".join(TIMER_TITLES[c] for c in cols) + " |")
    w("|---|---|---|---|---|---|")
    w("| CPU time per re-arm | " + " | ".join(fmt_ns(churn[c]) for c in cols) + " |")
    w("| user-space instructions per re-arm (callgrind) | "
      + " | ".join(fmt_num(instr.get(f"timer_churn/{c}"), 0) for c in cols[:4]) + " | – |")
    w("| syscalls per re-arm | "
      + ("–" if churn_sys is None else f"{churn_sys[0]:.5f} timerfd_settime ({churn_sys[2]} in {churn_sys[4]:,}; "
         f"{churn_sys[3]} re-arms moved the earliest)")
      + " | – | 0 | 0 | 1 timerfd_settime |")
    w("")

    w("### Start/stop at scale")
    w("")
    w("Arm one timer at a random deadline in a 1 s window an hour ahead, then disarm it, with n others armed")
    w("at random in that window (event_manager through `arm_timer_at()`, so that its window stays put as the")
    w("peers' do: their loop time does not move while the loop does not run). Outside `run()`, event_manager")
    w("re-programs its timerfd whenever the probe becomes or stops being the earliest deadline (counted below")
    w("by strace); libev and libuv have no kernel timer to update until their next wait.")
    w("")
    cols = ["event_manager", "libev", "libuv", "timerfd"]
    w("| others armed | " + " | ".join(TIMER_TITLES[c] for c in cols) + " |")
    w("|---|---|---|---|---|")
    for n in START_STOP_SIZES:
        w(f"| {n:,} | " + " | ".join(fmt_ns(start_stop[(c, n)]) for c in cols) + " |")
    w("| instructions per arm+disarm at 10,000 (callgrind) | "
      + " | ".join(fmt_num(instr.get(f"timer_start_stop/{c}/10000"), 0) for c in cols[:3]) + " | – |")
    ss_sys = [syscalls.get(f"timer_start_stop/event_manager/{n}") for n in (10, 10_000)]
    w("| timerfd_settime per arm+disarm (strace), 10 / 10,000 others | "
      + " / ".join("–" if x is None else f"{x[0]:.4f}" for x in ss_sys) + " | 0 | 0 | 2 |")
    w("")

    w("### Latency on an idle loop")
    w("")
    w("1,000 timers armed at once, deadlines 1 ms apart; each callback records steady_clock now minus the")
    w("deadline as the library computed it (event_manager: the `arm_timer_at()` deadline; libev: `ev_timer::at`")
    w("while active; libuv: `uv_timer_t::timeout`, whole milliseconds of its cached loop time; timerfd: the")
    w("absolute `timerfd_settime` deadline). *early*: callbacks before that deadline.")
    w("")
    w("| | " + " | ".join(TIMER_TITLES[lib] for lib in TIMER_LIBS) + " |")
    w("|---|---|---|---|---|")
    for index, title in ((0, "p50"), (1, "p99"), (2, "max")):
        w(f"| {title} | " + " | ".join(fmt_ns(latency[lib][index]) for lib in TIMER_LIBS) + " |")
    w("| early (of 1,000) | " + " | ".join(fmt_num(latency[lib][3], 0) for lib in TIMER_LIBS) + " |")
    w("")

    w("### Pause + resume")
    w("")
    w("`pause()` then `resume()` of a subscriber with n idle eventfds. The floor: one `EPOLL_CTL_MOD` per fd")
    w("to an empty mask and one back. epoll_ctl calls per fd each way: strace over 500 and 1,000 pairs.")
    w("")
    w("| fds | raw epoll floor | event_manager | epoll_ctl per fd each way |")
    w("|---|---|---|---|")
    for n, per_fd in zip(PAUSE_FDS, per_fd_each_way):
        floor = t(f"pause_resume/raw_epoll/{n}")
        mine = t(f"pause_resume/event_manager/{n}")
        w(f"| {n} | {fmt_ns(floor)} | {fmt_cell(mine, None if mine is None or floor is None else mine / floor)} "
          f"| {fmt_num(per_fd, 2)} |")
    w("")
    w(TIMERS_END)
    return out


def splice_timers(path, section):
    """Replaces the timer section of an existing report (or inserts it before the notes)."""
    with open(path) as f:
        text = f.read()
    block = "\n".join(section)
    if TIMERS_BEGIN in text and TIMERS_END in text:
        head, rest = text.split(TIMERS_BEGIN, 1)
        tail = rest.split(TIMERS_END, 1)[1]
        return head + block + tail
    marker = "## Notes on this run"
    if marker in text:
        head, tail = text.split(marker, 1)
        return head + block + "\n\n" + marker + tail
    return text.rstrip("\n") + "\n\n" + block + "\n"


class Report:
    def __init__(self, medians, instructions):
        self.medians = medians
        self.instructions = instructions

    def time(self, name):
        """Median time per iteration in ns, or None if the benchmark did not run."""
        entry = self.medians.get(name)
        if entry is None:
            return None
        return entry["real_ns"] if name.startswith("remote") else entry["cpu_ns"]

    def counter(self, name, key):
        entry = self.medians.get(name)
        return None if entry is None else entry.get(key)

    def per_event(self, name):
        t = self.time(name)
        events = self.counter(name, "events")
        return None if t is None or not events else t / events

    def ratio(self, name, floor):
        a, b = self.time(name), self.time(floor)
        return None if a is None or b is None else a / b


def fmt_time(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def fmt_ratio(r):
    return "–" if r is None else f"{r:.3f}×"


def fmt_cell(ns, r):
    if ns is None:
        return "–"
    return f"{fmt_ratio(r)} ({fmt_time(ns)})"


def fmt_num(x, digits=1):
    return "–" if x is None else f"{x:,.{digits}f}"


def verdict(ok):
    return "–" if ok is None else ("**met**" if ok else "**not met**")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--instructions", required=True)
    ap.add_argument("--syscalls", required=True)
    ap.add_argument("--notes")
    ap.add_argument("--compiler", default="")
    ap.add_argument("--peers", default="")
    ap.add_argument("--load", default="")
    ap.add_argument("--load-after", default="")
    ap.add_argument("--repetitions", default="")
    ap.add_argument("--plot-data", required=True)
    ap.add_argument("--timer-memory")
    ap.add_argument("--timer-syscalls")
    ap.add_argument("--only", choices=["timers"],
                    help="write only the timer section into the existing --out (and refresh the notes)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    context, medians = load_medians(args.results)
    instr = load_instructions(args.instructions)
    modify_syscalls = load_syscalls(args.syscalls)
    r = Report(medians, instr)
    run_date = context.get("date") or datetime.datetime.now(datetime.timezone.utc).isoformat()
    meta = {"date": run_date, "load": args.load, "load_after": args.load_after, "repetitions": args.repetitions,
            "command": "BENCH_ONLY=timers ./scripts/bench.sh" if args.only else "./scripts/bench.sh"}
    timers = timer_section(r, instr, load_timer_memory(args.timer_memory), load_timer_syscalls(args.timer_syscalls),
                           meta)
    notes = None
    if args.notes and os.path.exists(args.notes):
        with open(args.notes) as f:
            notes = f.read().rstrip()
    if args.only == "timers":
        text = splice_timers(args.out, timers)
        if notes is not None and "## Notes on this run" in text:
            text = text.split("## Notes on this run", 1)[0] + notes + "\n"
        with open(args.out, "w") as f:
            f.write(text)
        return

    out = []
    w = out.append

    floor200 = "d200/raw_epoll"
    w("# Performance")
    w("")
    w("Generated by `./scripts/bench.sh` — do not edit by hand (the notes at the end come from")
    w("`bench/report_notes.md`). Every ratio divides two medians measured in the same run of one")
    w("binary; the raw epoll floor is `epoll_wait` plus a flat fd-indexed table of function pointers.")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| date | {run_date} (start of the timed run) |")
    w(f"| machine | {os.cpu_count()} CPUs (nproc), {cpu_model()}, Linux {platform.release()} |")
    w(f"| compiler | {args.compiler} (Release, -O3) |")
    w(f"| peers | {args.peers.replace(';', ', ')} |")
    w(f"| load average | {args.load} before, {args.load_after} after |")
    w(f"| repetitions | {args.repetitions}, interleaved; medians quoted |")
    w("| time | process CPU time per iteration for single-threaded scenarios; wall-clock for RemoteEndpoint |")
    w("")

    # --- Goals --------------------------------------------------------------
    def at_most(x, limit):
        return None if x is None else x <= limit

    def ahead(name, others):
        t = r.time(name)
        ts = [r.time(o) for o in others]
        if t is None or any(x is None for x in ts):
            return None
        return all(t < x for x in ts)

    d200 = r.ratio("d200/event_manager", floor200)
    ipe = instr.get("d200/event_manager")
    sparse = r.ratio("d9of200/event_manager", "d9of200/raw_epoll")
    variants = {  # title -> (ratio to the plain floor, ratio to the same-work floor)
        "shared_ptr<Synchronized<T>>": (r.ratio("d200_shared_locked/event_manager", floor200),
                                        r.ratio("d200_shared_locked/event_manager", "d200_shared_locked/raw_same_work")),
        "EventSubscriber + atomic": (r.ratio("d200_atomic_dynamic/event_manager", floor200),
                                     r.ratio("d200_atomic_dynamic/event_manager", "d200_atomic_dynamic/raw_same_work")),
        "mixed MutEventSubscriber": (r.ratio("d200_mixed_dynamic/event_manager", floor200),
                                     r.ratio("d200_mixed_dynamic/event_manager", "d200_mixed_dynamic/raw_same_work")),
        "400 shared+locked, 256/run": (r.ratio("d400_cap256/event_manager", "d400_cap256/raw_epoll"),
                                       r.ratio("d400_cap256/event_manager", "d400_cap256/raw_same_work")),
    }
    pipe = {n: r.ratio(f"pipe/event_manager/{n}", f"pipe/raw_epoll/{n}") for n in (1000, 9000)}
    pipe_ahead = {n: ahead(f"pipe/event_manager/{n}", [f"pipe/{lib}/{n}" for lib in ("libevent", "libev", "libuv")])
                  for n in (1000, 9000)}
    # Flat: event_manager's ratio to the bare epoll_ctl calls does not grow from
    # 10 to 9,000 registered fds (the kernel's own cost grows with its tree).
    churn = {n: r.ratio(f"churn/event_manager/{n}", f"churn/raw_epoll/{n}") for n in (10, 9000)}
    churn_ratio = None if None in churn.values() else churn[9000] / churn[10]
    churn_em = {n: r.time(f"churn/event_manager/{n}") for n in (10, 9000)}
    churn_raw = {n: r.time(f"churn/raw_epoll/{n}") for n in (10, 9000)}
    call_one = r.ratio("remote_call/event_manager/two_cpus:0/real_time", "remote_call/pingpong_floor/two_cpus:0/real_time")
    call_instr = instr.get("remote_call/event_manager")

    w("## Goals")
    w("")
    w("| goal | measured | |")
    w("|---|---|---|")
    w(f"| 200 triggered ≤ 1.03× raw floor | {fmt_ratio(d200)} | {verdict(at_most(d200, 1.03))} |")
    w(f"| 200 triggered ahead of libuv | {fmt_time(r.time('d200/event_manager'))} vs {fmt_time(r.time('d200/libuv'))} "
      f"| {verdict(ahead('d200/event_manager', ['d200/libuv']))} |")
    w(f"| ≤ 30 user-space instructions per dispatched event (callgrind) | {fmt_num(ipe)} | {verdict(at_most(ipe, 30))} |")
    w(f"| 9 of 200 ≤ 1.08× | {fmt_ratio(sparse)} | {verdict(at_most(sparse, 1.08))} |")
    for title, (value, same) in variants.items():
        w(f"| {title} ≤ 1.06× | {fmt_ratio(value)} ({fmt_ratio(same)} the raw floor doing the same per-event work) "
          f"| {verdict(at_most(value, 1.06))} |")
    for n in (1000, 9000):
        w(f"| pipe N={n:,} ≤ 1.03× | {fmt_ratio(pipe[n])} | {verdict(at_most(pipe[n], 1.03))} |")
        w(f"| pipe N={n:,} ahead of every peer | "
          + ", ".join(f"{LIB_TITLES[lib]} {fmt_ratio(r.ratio(f'pipe/{lib}/{n}', f'pipe/raw_epoll/{n}'))}"
                      for lib in ("event_manager", "libevent", "libev", "libuv"))
          + f" | {verdict(pipe_ahead[n])} |")
    w(f"| modify() with unchanged mask and data makes no syscall | "
      f"{fmt_num(modify_syscalls, 2)} epoll_ctl per modify() (strace) | {verdict(None if modify_syscalls is None else modify_syscalls == 0)} |")
    w(f"| add+remove flat from 10 to 9,000 fds: ratio to raw epoll_ctl grows ≤ 10% | "
      f"{fmt_ratio(churn[10])} → {fmt_ratio(churn[9000])} (event_manager {fmt_time(churn_em[10])} → "
      f"{fmt_time(churn_em[9000])}; the kernel alone {fmt_time(churn_raw[10])} → {fmt_time(churn_raw[9000])}) "
      f"| {verdict(at_most(churn_ratio, 1.10))} |")
    w(f"| call_blocking ≤ 1.08× ping-pong floor, one CPU | {fmt_ratio(call_one)} | {verdict(at_most(call_one, 1.08))} |")
    w(f"| call_blocking ≤ 1,000 instructions per call (callgrind) | {fmt_num(call_instr, 0)} | {verdict(at_most(call_instr, 1000))} |")
    w("")

    # --- Dispatch -------------------------------------------------------------
    w("## 200 triggered eventfds, one run()")
    w("")
    w("Level-triggered eventfds, written once and never read, so every run() dispatches the same set;")
    w("each callback increments a counter. Cells: ratio to the raw floor of the same row (time per run()).")
    w("")
    w("| scenario | raw epoll | raw epoll, same work | event_manager | libevent | libev | libuv |")
    w("|---|---|---|---|---|---|---|")
    rows = [
        ("200 triggered, subscribers by value", "d200", floor200, True),
        ("200, `std::shared_ptr<Synchronized<T>>` (mutex per event)", "d200_shared_locked", floor200, False),
        ("200, `std::shared_ptr<EventSubscriber>`, atomic counter", "d200_atomic_dynamic", floor200, False),
        ("200, mixed types via `std::unique_ptr<MutEventSubscriber>`, 32-bit data", "d200_mixed_dynamic", floor200, False),
        ("9 of 200 triggered (every 23rd)", "d9of200", "d9of200/raw_epoll", True),
        ("400 triggered, 3 fds per subscriber, shared+locked dynamic, 256 per run", "d400_cap256",
         "d400_cap256/raw_epoll", False),
    ]
    for title, scenario, floor, peers in rows:
        same = f"{scenario}/raw_same_work"
        cells = [fmt_time(r.time(floor)), fmt_cell(r.time(same), r.ratio(same, floor))]
        for lib in LIBS[1:]:
            name = f"{scenario}/{lib}"
            if lib != "event_manager" and not peers:
                cells.append("–")
            else:
                cell = fmt_cell(r.time(name), r.ratio(name, floor))
                if lib == "event_manager" and r.time(same) is not None:
                    cell += f"; {fmt_ratio(r.ratio(name, same))} same work"
                cells.append(cell)
        w(f"| {title} | " + " | ".join(cells) + " |")
    w("")
    w("*raw epoll, same work*: the raw floor whose callbacks do the row's per-event work (lock a mutex,")
    w("bump an atomic, alternate between two callback types); event_manager's ratio to it is its own overhead.")
    w("")
    w("Per dispatched event (median time per run / events per run):")
    w("")
    w("| scenario | raw epoll | event_manager | libevent | libev | libuv |")
    w("|---|---|---|---|---|---|")
    for title, scenario in (("200 triggered", "d200"), ("9 of 200", "d9of200")):
        w(f"| {title} | " + " | ".join(fmt_time(r.per_event(f"{scenario}/{lib}")) for lib in LIBS) + " |")
    w("")

    w("## User-space instructions per dispatched event (callgrind)")
    w("")
    w("Steady state: each scenario runs K and 2K iterations under `valgrind --tool=callgrind`;")
    w("(instructions(2K) − instructions(K)) / (K × events per iteration). Kernel work is not counted.")
    w("")
    w("| scenario | raw epoll | event_manager | libevent | libev | libuv |")
    w("|---|---|---|---|---|---|")
    for title, scenario, peers in (("200 triggered, by value", "d200", True), ("9 of 200", "d9of200", True)):
        w(f"| {title} | " + " | ".join(fmt_num(instr.get(f"{scenario}/{lib}")) for lib in LIBS) + " |")
    for title, scenario, floor in (
            ("200, `shared_ptr<Synchronized<T>>`", "d200_shared_locked", "d200"),
            ("200, `EventSubscriber` + atomic", "d200_atomic_dynamic", "d200"),
            ("200, mixed `MutEventSubscriber`", "d200_mixed_dynamic", "d200"),
            ("400, shared+locked, 256 per run", "d400_cap256", "d400_cap256")):
        w(f"| {title} | {fmt_num(instr.get(f'{floor}/raw_epoll'))} (same work: "
          f"{fmt_num(instr.get(f'{scenario}/raw_same_work'))}) | {fmt_num(instr.get(f'{scenario}/event_manager'))}"
          " | – | – | – |")
    w("")

    # --- Pipe -----------------------------------------------------------------
    w("## Pipe benchmark (libev/libevent style)")
    w("")
    w("N socketpairs, 100 active writers; each callback reads its byte and writes one into the next pair")
    w("until 1,000 writes are done: 1,100 callbacks per iteration. Registration is outside the timed loop.")
    w("Cells: ratio to raw epoll (time per iteration).")
    w("")
    w("| N | raw epoll | event_manager | libevent | libev | libuv |")
    w("|---|---|---|---|---|---|")
    for n in PIPE_SIZES:
        floor = f"pipe/raw_epoll/{n}"
        cells = [fmt_time(r.time(floor))] + [fmt_cell(r.time(f"pipe/{lib}/{n}"), r.ratio(f"pipe/{lib}/{n}", floor))
                                              for lib in LIBS[1:]]
        w(f"| {n:,} | " + " | ".join(cells) + " |")
    w("")
    w("![time per event against N](bench-plot.svg)")
    w("")
    with open(args.plot_data, "w") as f:
        f.write("# N " + " ".join(LIBS) + "  (ns per event)\n")
        for n in PIPE_SIZES:
            values = [r.per_event(f"pipe/{lib}/{n}") for lib in LIBS]
            f.write(f"{n} " + " ".join("NaN" if v is None else f"{v:.1f}" for v in values) + "\n")

    # --- Registration and memory --------------------------------------------------
    w("## Registration")
    w("")
    w("| operation | raw epoll | event_manager |")
    w("|---|---|---|")
    for n in (10, 9000):
        floor = f"churn/raw_epoll/{n}"
        w(f"| add + remove of one fd, {n:,} registered | {fmt_time(r.time(floor))} "
          f"| {fmt_cell(r.time(f'churn/event_manager/{n}'), r.ratio(f'churn/event_manager/{n}', floor))} |")
    w(f"| modify(), unchanged mask and data (raw: one EPOLL_CTL_MOD) | {fmt_time(r.time('modify_unchanged/raw_epoll'))} "
      f"| {fmt_time(r.time('modify_unchanged/event_manager'))}, {fmt_num(modify_syscalls, 2)} epoll_ctl calls (strace) |")
    w("")
    w("## Memory")
    w("")
    w("Heap bytes (mallinfo2: chunk headers and table slack included) across registering 10,000 eventfds;")
    w("the watcher object a library needs per fd (`struct event`, `ev_io`, `uv_poll_t`) is counted; the")
    w("kernel's own per-registration memory is the same for all and not counted.")
    w("")
    w("| | raw epoll | event_manager | libevent | libev | libuv |")
    w("|---|---|---|---|---|---|")
    w("| bytes per registered fd | " + " | ".join(fmt_num(r.counter(f"memory/{lib}/iterations:1", "bytes_per_fd"))
                                              for lib in LIBS) + " |")
    w(f"| bytes per subscriber (1-fd subscriber of {fmt_num(r.counter('memory/event_manager/iterations:1', 'sizeof_subscriber_object'), 0)} bytes, beyond its fd) | – | "
      f"{fmt_num(r.counter('memory/event_manager/iterations:1', 'bytes_per_subscriber'))} | – | – | – |")
    w(f"| `sizeof(detail::FdEntry)` | – | {fmt_num(r.counter('memory/event_manager/iterations:1', 'sizeof_fd_entry'), 0)} | – | – | – |")
    w("")

    # --- RemoteEndpoint -------------------------------------------------------------
    w("## RemoteEndpoint")
    w("")
    w("The floor is a raw two-thread eventfd ping-pong (blocking write/read each way). Both threads")
    w("pinned to CPU 0 (one CPU), or the caller on CPU 0 and the loop/peer on CPU 1 (two CPUs).")
    w("fire: 64 closures queued, then one call_blocking() as a barrier; time per fired closure.")
    w("")
    w("| | one CPU | two CPUs | user-space instructions (callgrind) |")
    w("|---|---|---|---|")
    w(f"| ping-pong floor, round trip | {fmt_time(r.time('remote_call/pingpong_floor/two_cpus:0/real_time'))} "
      f"| {fmt_time(r.time('remote_call/pingpong_floor/two_cpus:1/real_time'))} "
      f"| {fmt_num(instr.get('remote_call/pingpong_floor'), 0)} per round trip |")
    cells = []
    for cpu in (0, 1):
        name = f"remote_call/event_manager/two_cpus:{cpu}/real_time"
        cells.append(fmt_cell(r.time(name), r.ratio(name, f"remote_call/pingpong_floor/two_cpus:{cpu}/real_time")))
    w(f"| call_blocking round trip | {cells[0]} | {cells[1]} | {fmt_num(call_instr, 0)} per call |")
    cells = []
    for cpu in (0, 1):
        name = f"remote_fire/event_manager/two_cpus:{cpu}/real_time"
        pe = r.per_event(name)
        floor = r.time(f"remote_call/pingpong_floor/two_cpus:{cpu}/real_time")
        cells.append(fmt_cell(pe, None if pe is None or floor is None else pe / floor))
    w(f"| fire, per closure (ratio to one ping-pong) | {cells[0]} | {cells[1]} "
      f"| {fmt_num(instr.get('remote_fire/event_manager'), 0)} per closure |")
    w("")

    out.extend(timers)
    w("")
    if notes is not None:
        w(notes)
        w("")

    with open(args.out, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
