#!/usr/bin/env python3
"""bench_meta.py: W7 of scripts/bench, what a program costs that walks a directory of keys.

  bench_meta.py fill DIR COUNT
      creates DIR/k000000 .. DIR/kCOUNT-1, 100 bytes each (the size of the no-op FUSE
      file system's files, so open+read moves the same bytes on both)
  bench_meta.py run COUNT REPS NAME:MODES:DIR [NAME:MODES:DIR ...]
      REPS rounds; in each, every MODE (comma-separated: stat, ls, read) on every DIR in
      turn, so a noisy moment of a shared machine does not land on one target alone. Prints
      "NAME MODE MEDIAN_MS" per pair, the median of its REPS timings.

The modes, each over the COUNT keys of DIR:
  stat  os.stat of every path (what a build tool or rsync does first)
  ls    one `ls -l DIR` (LC_ALL=C, output to /dev/null): READDIR, then per file a stat and
        the extended attributes ls asks for (ACLs, SELinux label), each a FUSE request
        unless the kernel caches it
  read  open, read to the end, close, of every key
Timings are in-process (time.perf_counter_ns around the loop), so Python's start is not in
them. Not a test: it never fails on a time."""
import os
import subprocess
import sys
import time

VALUE = b"v" * 99 + b"\n"


def key(d, i):
    return "%s/k%06d" % (d, i)


def fill(d, count):
    os.makedirs(d, exist_ok=True)
    for i in range(count):
        with open(key(d, i), "wb") as f:
            f.write(VALUE)


def t_stat(d, paths):
    t0 = time.perf_counter_ns()
    for p in paths:
        os.stat(p)
    return time.perf_counter_ns() - t0


def t_ls(d, paths):
    env = dict(os.environ, LC_ALL="C")
    t0 = time.perf_counter_ns()
    subprocess.run(["ls", "-l", d], stdout=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter_ns() - t0


def t_read(d, paths):
    t0 = time.perf_counter_ns()
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        while os.read(fd, 65536):
            pass
        os.close(fd)
    return time.perf_counter_ns() - t0


MODES = {"stat": t_stat, "ls": t_ls, "read": t_read}


def run(count, reps, targets):
    parsed = []
    for t in targets:
        name, modes, d = t.split(":", 2)
        for m in modes.split(","):
            if m not in MODES:
                sys.exit("bench_meta.py: unknown mode %r" % m)
        parsed.append((name, modes.split(","), d, [key(d, i) for i in range(count)]))
    times = {}
    for _ in range(reps):
        for name, modes, d, paths in parsed:
            for m in modes:
                times.setdefault((name, m), []).append(MODES[m](d, paths))
    for (name, m), v in times.items():
        v.sort()
        print("%s %s %.1f" % (name, m, v[(len(v) - 1) // 2] / 1e6))


def main(argv):
    if len(argv) == 4 and argv[1] == "fill":
        fill(argv[2], int(argv[3]))
    elif len(argv) >= 5 and argv[1] == "run":
        run(int(argv[2]), int(argv[3]), argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
