#!/bin/bash
# test_disk.sh: fault-disk, the power-loss and bad-disk layer, on its own: a write that was
# never synced is gone after the plug is pulled (kill -9 of the layer), a write followed by
# fsync, or made through O_DSYNC, survives; `writeback` keeps some pages, page by page; the
# disk-full and EIO faults fail writes and syncs with those errors and end with `ok`.
#   test_disk.sh FAULT_DISK
set -u
DISK=$1
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	echo "skip: no /dev/fuse or fusermount3" >&2
	exit 77
fi
TMP=$(mktemp -d /tmp/qfs-disk.XXXXXX)
LPID=""
FAILS=0
cleanup() {
	[ -n "$LPID" ] && kill -KILL "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
	fusermount3 -u "$TMP/mnt" 2>/dev/null || fusermount3 -u -z "$TMP/mnt" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
check() {
	if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2 ($1)"; FAILS=$((FAILS + 1)); fi
}
mkdir -p "$TMP/lower" "$TMP/mnt"
mkfifo "$TMP/ctl"
start() {
	"$DISK" "$TMP/lower" "$TMP/mnt" --control "$TMP/ctl" --seed 3 >"$TMP/out" 2>&1 &
	LPID=$!
	exec 7<>"$TMP/ctl"
	for _ in $(seq 1 50); do grep -q ready "$TMP/out" 2>/dev/null && return 0; sleep 0.1; done
	echo "fault-disk did not start"; cat "$TMP/out"; exit 1
}
# ctl CMD [ARG]: send a command and wait for its answer.
CTL_ID=0
ctl() {
	CTL_ID=$((CTL_ID + 1))
	echo "c$CTL_ID $*" >&7
	for _ in $(seq 1 50); do grep -q "^c$CTL_ID " "$TMP/out" && { grep "^c$CTL_ID " "$TMP/out"; return 0; }; sleep 0.1; done
	echo "no answer to $*"; return 1
}
# The plug: the layer dies with what it held, the dead mount goes, the layer comes back.
pull_plug() {
	kill -KILL "$LPID"; wait "$LPID" 2>/dev/null; LPID=""
	fusermount3 -u "$TMP/mnt" 2>/dev/null || fusermount3 -u -z "$TMP/mnt"
	: >"$TMP/out"
	start
}
start
M=$TMP/mnt
printf 'durable\n' >"$M/base"
dd if="$M/base" of="$M/synced" conv=fsync status=none
printf 'lost\n' >"$M/unsynced"
printf 'one\n' | dd of="$M/dsync" oflag=dsync status=none
check '[ "$(cat "$M/unsynced")" = lost ]' "an unsynced write reads back before the power loss"
check '[ "$(stat -c %s "$TMP/lower/unsynced")" = 0 ]' "an unsynced write has not reached the disk"
# A file with a synced first page, then an unsynced overwrite of it and a second page.
head -c 4096 /dev/zero | tr '\0' a >"$M/pages"
dd if=/dev/null of="$M/pages" conv=fsync,notrunc status=none
head -c 8192 /dev/zero | tr '\0' b | dd of="$M/pages" conv=notrunc status=none
check '[ "$(tr -d b <"$M/pages" | wc -c)" = 0 ]' "the overwrite reads back whole before the power loss"
check '[ "$(ls "$M" | wc -l)" = 5 ]' "the directory lists its files"
pull_plug
check '[ "$(cat "$M/synced")" = durable ]' "write + fsync survives the power loss"
check '[ "$(cat "$M/dsync")" = one ]' "an O_DSYNC write survives the power loss"
check '[ -e "$M/unsynced" ] && [ ! -s "$M/unsynced" ]' "an unsynced write is gone (the create, a namespace operation, stays)"
check '[ "$(stat -c %s "$M/pages")" = 4096 ] && [ "$(tr -d a <"$M/pages" | wc -c)" = 0 ]' \
	"an unsynced overwrite is gone: the synced page is back, the new page never was"

# writeback 50: some of 64 unsynced pages survive, each page whole or not at all.
for p in $(seq 0 63); do printf "%04096d" "$p"; done >"$M/torn"
out=$(ctl writeback 50)
echo "$out"
pull_plug
n=$(stat -c %s "$M/torn")
whole=$(od -An -v -c -w4096 "$M/torn" | awk 'NF > 0' | wc -l)
kept=$(for p in $(seq 0 63); do
	dd if="$M/torn" bs=4096 skip="$p" count=1 status=none | grep -qx "$(printf "%04096d" "$p")" && echo "$p"
done | wc -l)
zero=$(for p in $(seq 0 63); do
	[ "$(dd if="$M/torn" bs=4096 skip="$p" count=1 status=none | tr -d '\0' | wc -c)" = 0 ] && echo "$p"
done | wc -l)
echo "torn file: $n bytes, $kept pages kept, $zero of zeros ($whole lines)"
check '[ "$kept" -gt 0 ] && [ "$kept" -lt 64 ]' "writeback 50 keeps some pages, not all"
check '[ $((n % 4096)) = 0 ] && [ $(( (n / 4096) - kept )) -le "$zero" ]' "each page is either kept whole or reads as zeros"

# Disk full: writes and creates fail with ENOSPC; after ok they work again.
ctl full >/dev/null
check '! { printf x >"$M/full1"; } 2>"$TMP/err"' "a create fails while the disk is full"
check 'grep -q "No space left" "$TMP/err"' "with ENOSPC"
check '! { printf x >>"$M/synced"; } 2>"$TMP/err" && grep -q "No space left" "$TMP/err"' "an append fails with ENOSPC"
check '[ "$(cat "$M/synced")" = durable ]' "reads still work on a full disk, and the failed append left nothing"
check '[ "$(stat -f -c %a "$M")" = 0 ]' "statfs reports no space available"
ctl ok >/dev/null
check 'printf y >"$M/full1"' "writes work again after the disk is freed"

# EIO: writes fail; a failed fsync gives the pages up, and a later good fsync does not save them.
printf 'before\n' >"$M/eio"
ctl eio-sync >/dev/null
check '! dd if=/dev/null of="$M/eio" conv=fsync,notrunc status=none 2>"$TMP/err" && grep -q "Input/output" "$TMP/err"' \
	"fsync fails with EIO"
ctl eio >/dev/null
check '! { printf z >>"$M/eio"; } 2>"$TMP/err" && grep -q "Input/output" "$TMP/err"' "a write fails with EIO"
ctl ok >/dev/null
check 'dd if=/dev/null of="$M/eio" conv=fsync,notrunc status=none' "fsync succeeds once the disk is back"
check '[ "$(cat "$M/eio")" = before ]' "the given-up pages still read back before the power loss"
ctl status
pull_plug
# The later good fsync made the size durable (metadata), not the given-up data: zeros.
check '[ -z "$(tr -d "\\0" <"$M/eio")" ]' "pages a failed fsync gave up on are lost at the power loss, as on Linux"
check '[ "$(cat "$M/synced")" = durable ]' "what was durable before stays durable"

echo "$((FAILS == 0 ? 1 : 0)) passed, $FAILS failed"
[ $FAILS = 0 ]
