#!/usr/bin/env bash
# test_torn_reads.sh [page-cache]: a key rewritten in a loop on node 1 (three
# values of different lengths, open(O_TRUNC) + write + close) is read
# meanwhile by open+read+close on node 1 itself and on node 2, and by pread
# through a descriptor kept open on node 2. Every read must return one of
# the three values whole: never bytes of one cut or padded to another's
# length, never an empty file (docs/semantics.md, "The page cache and
# mmap"). At the defaults (direct I/O) it passes; with `page-cache` it is
# expected to fail (meson: should_fail): the kernel then answers a read from
# its page cache and its own idea of the size, which it does not take
# together, and the check must catch that.
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = page-cache ] && QFS_CLUSTER_EXTRA="page-cache = true"
qfs_cluster_start 3

m1=$(qfs_mnt 1) m2=$(qfs_mnt 2)
printf '%040d' 0 | tr 0 a >"$m1/key"
eventually 10 grep -q aaaa "$m2/key" || fail "node 2 does not read the first value"

out=$(python3 - "$m1/key" "$m2/key" "${QFS_TORN_SECS:-8}" <<'PY' 2>&1
import multiprocessing as mp, os, sys, time
on1, on2, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
values = [b"a" * 40, b"bb", b"c" * 20]

def writer(stop):
    i = 0
    while not stop.is_set():
        fd = os.open(on1, os.O_WRONLY | os.O_TRUNC)
        os.write(fd, values[i % 3])
        os.close(fd)
        i += 1

def read_open(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)

def reader(name, path, kept, stop, q):
    fd = os.open(path, os.O_RDONLY) if kept else -1
    n, seen, bad = 0, set(), {}
    while not stop.is_set():
        v = os.pread(fd, 4096, 0) if kept else read_open(path)
        n += 1
        if v in values:
            seen.add(v)
        else:
            bad[v] = bad.get(v, 0) + 1
    q.put((name, n, len(seen), bad))

stop, q = mp.Event(), mp.Queue()
readers = [("open+read on node 1", on1, False), ("open+read on node 2", on2, False),
           ("pread of a kept descriptor on node 2", on2, True)]
procs = [mp.Process(target=writer, args=(stop,))]
procs += [mp.Process(target=reader, args=(r + (stop, q))) for r in readers]
for p in procs:
    p.start()
time.sleep(secs)
stop.set()
for _ in readers:
    name, n, seen, bad = q.get()
    print("%s: %d reads, %d of the 3 values seen, %d never written %s"
          % (name, n, seen, sum(bad.values()), sorted(bad.items(), key=lambda kv: -kv[1])[:2]))
for p in procs:
    p.join()
PY
)
echo "$out"
while IFS= read -r line; do
	case $line in
	*" reads, "*)
		name=${line%%:*}
		check '[[ "$line" == *", 0 never written"* ]]' "$name: every read returns a value whole"
		check '[[ "$line" != *" 0 of the 3"* && "$line" != *" 1 of the 3"* ]]' \
			"$name: the reads overlapped the writes (saw more than one value)"
		;;
	esac
done <<<"$out"
[ "$(grep -c ' reads, ' <<<"$out")" = 3 ] || fail "the readers did not all report: $out"

exit $((QFS_FAILS > 0))
