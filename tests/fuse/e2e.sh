#!/bin/bash
# e2e.sh: the mount over a fake node, driven by shell tools from this process
# (the daemon serves from another). Usage: e2e.sh PATH/TO/qfs-fuse-testd
# Exit 0: passed; 1: failed; 77: skipped (no usable /dev/fuse).
# Whatever happens, the trap unmounts, kills the daemon by its PID and
# removes the temporary directories.
set -u

TESTD=${1:?usage: e2e.sh qfs-fuse-testd}
MAX=4194304 # the fake node's max_value_size: 4 MiB

if [ ! -c /dev/fuse ] || ! [ -r /dev/fuse ] || ! [ -w /dev/fuse ] ||
	! command -v fusermount3 >/dev/null; then
	echo "SKIP: /dev/fuse or fusermount3 not usable"
	exit 77
fi

TMP=$(mktemp -d /tmp/qfs-fuse-e2e.XXXXXX) || exit 1
MNT=$TMP/mnt
DATA=$TMP/data
LOCAL=$TMP/local
CMDLOG=$TMP/commands.log
mkdir -p "$MNT" "$DATA" "$LOCAL"
chmod 755 "$TMP" # another user reaches the mount (permission checks)
PID=
WATCHDOG=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	if grep -qs " $MNT " /proc/mounts; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null
	fi
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PID" 2>/dev/null
	fi
	[ -n "$PID" ] && wait "$PID" 2>/dev/null
	grep -qs " $MNT " /proc/mounts && fusermount3 -u -z "$MNT" 2>/dev/null
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 1' INT TERM

QFS_FAKE_NODE_LOG=$CMDLOG "$TESTD" "$MNT" "$DATA" "$MAX" ${QFS_FUSE_DEBUG:+debug} \
	2>"$TMP/testd.err" &
PID=$!
for _ in $(seq 100); do
	grep -qs " $MNT " /proc/mounts && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.05
done
if ! grep -qs " $MNT " /proc/mounts; then
	cat "$TMP/testd.err"
	if grep -qs "fuse: device not found\|Permission denied\|Operation not permitted" "$TMP/testd.err"; then
		echo "SKIP: cannot mount FUSE here"
		exit 77
	fi
	echo "FAIL: the daemon did not mount"
	exit 1
fi
# A hang must not outlive the test: the watchdog ends it, and the trap cleans.
(exec >/dev/null 2>&1; sleep 110; kill -TERM $$) &
WATCHDOG=$!

. "$(dirname "${BASH_SOURCE[0]}")/assert.sh"
# Commands the fake node applied since mark_commands.
mark_commands() { sleep 0.2; MARK=$(wc -l <"$CMDLOG" 2>/dev/null || echo 0); }
commands_since() { sleep 0.3; tail -n +$((MARK + 1)) "$CMDLOG" | cut -d' ' -f1,2 | tr '\n' ';'; }

cd "$TMP" || exit 1
M=$MNT

# --- contents ---------------------------------------------------------------
echo hello >"$M/f"
eq "echo > new file, cat" "$(cat "$M/f")" "hello"
echo "a longer value" >"$M/f"
echo v2 >"$M/f"
eq "echo > over a longer value" "$(cat "$M/f")" "v2"
eq "size after replacement" "$(stat -c %s "$M/f")" "3"
echo a >"$M/g"
echo b >>"$M/g"
eq "append with >>" "$(cat "$M/g")" "$(printf 'a\nb')"
printf 'a\0b\0\0c' >"$M/nul"
printf 'a\0b\0\0c' >"$LOCAL/nul"
ok "printf with NUL bytes, cmp" cmp "$M/nul" "$LOCAL/nul"
printf 'one\ntwo\nthree\n' >"$M/s"
ok "sed -i runs" sed -i 's/two/dos/' "$M/s"
eq "sed -i result" "$(cat "$M/s")" "$(printf 'one\ndos\nthree')"
printf 'abcdef' >"$M/t"
ok "truncate -s 3" truncate -s 3 "$M/t"
eq "truncated contents" "$(cat "$M/t")" "abc"
ok "truncate -s 10 (extend)" truncate -s 10 "$M/t"
eq "extended size" "$(stat -c %s "$M/t")" "10"
eq "extension is zeros" "$(od -An -tx1 "$M/t" | tr -d ' \n')" "61626300000000000000"
head -c 3000000 /dev/urandom >"$LOCAL/big"
ok "cp of a 3 MB file" cp "$LOCAL/big" "$M/big"
ok "3 MB file reads back" cmp "$M/big" "$LOCAL/big"
fails_with "a value above the maximum: EFBIG" "File too large" \
	bash -c "head -c 5000000 /dev/zero >'$M/toobig'"

# Replacing a file with a copy of several chunks: one command, all or nothing.
head -c 2500000 /dev/urandom >"$LOCAL/big2"
mark_commands
ok "cp of 2.5 MB over an existing 3 MB file" cp "$LOCAL/big2" "$M/big"
eq "... is ONE writev|truncate command" "$(commands_since)" "writev flags=1;"
ok "... and reads back" cmp "$M/big" "$LOCAL/big2"
head -c 1048576 /dev/urandom >"$LOCAL/exact"
mark_commands
ok "cp of exactly 1 MiB (whole chunks) over a file" cp "$LOCAL/exact" "$M/big"
eq "... is ONE command, committed by close" "$(commands_since)" "writev flags=1;"
ok "... and reads back" cmp "$M/big" "$LOCAL/exact"
if command -v python3 >/dev/null; then
	echo x >"$M/fsynced"
	mark_commands
	eq "fsync commits buffered chunks before close" "$(python3 - "$M/fsynced" "$CMDLOG" "$MARK" <<'PY'
import mmap, os, sys, time
buf = mmap.mmap(-1, 1048576)
buf.write(b'a' * 1048576)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, buf)
os.fsync(fd)
time.sleep(0.2)
new = open(sys.argv[2]).read().splitlines()[int(sys.argv[3]):]
print(';'.join(' '.join(l.split()[:2]) for l in new))
os.close(fd)
PY
)" "writev flags=1"
fi
if command -v python3 >/dev/null; then
	echo keep >"$M/fsyncfail"
	eq "buffered chunks that cannot commit: fsync says EROFS, the old contents stay" \
		"$(python3 - "$M/fsyncfail" "$PID" <<'PY'
import errno, mmap, os, signal, sys, time
buf = mmap.mmap(-1, 1048576)           # page-aligned, as cp's and cat's buffers
buf.write(b'b' * 1048576)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, buf)                      # whole pages: buffered, answered at once
os.kill(int(sys.argv[2]), signal.SIGUSR1)  # the cluster loses quorum
time.sleep(0.3)
try:
    os.fsync(fd)
    r = 'fsync ok'
except OSError as e:
    r = errno.errorcode[e.errno]
os.kill(int(sys.argv[2]), signal.SIGUSR2)
time.sleep(0.3)
os.close(fd)
print(r, open(sys.argv[1]).read().strip())
PY
)" "EROFS keep"
fi
head -c 5000000 /dev/urandom >"$LOCAL/over"
fails_with "cp of a value above the maximum over a file: EFBIG" "File too large" \
	cp "$LOCAL/over" "$M/big"
ok "... and the old value survives" cmp "$M/big" "$LOCAL/exact"
head -c "$MAX" /dev/urandom >"$LOCAL/max"
ok "cp of exactly the maximum size" cp "$LOCAL/max" "$M/big"
ok "... reads back" cmp "$M/big" "$LOCAL/max"
fails_with "appending a byte beyond the maximum: EFBIG" "File too large" \
	bash -c "printf x >>'$M/big'"
ok "... and the old value survives" cmp "$M/big" "$LOCAL/max"
ok "dd at an offset (conv=notrunc)" bash -c "printf XY | dd of='$M/big' bs=1 seek=100 conv=notrunc status=none"
eq "bytes at the offset" "$(dd if="$M/big" bs=1 skip=100 count=2 status=none)" "XY"

# --- `echo v > f` is one command; `: > f` still truncates -------------------
echo old-contents >"$M/atomic"
mark_commands
echo new >"$M/atomic"
eq "echo > existing file is ONE writev|truncate command" "$(commands_since)" "writev flags=1;"
eq "its contents" "$(cat "$M/atomic")" "new"
printf 'from a program\n' >"$LOCAL/small"
mark_commands
cat "$LOCAL/small" >"$M/atomic"
eq "cat a > existing f is ONE writev|truncate command" "$(commands_since)" "writev flags=1;"
mark_commands
cp "$LOCAL/small" "$M/atomic"
eq "cp a existing-f is ONE writev|truncate command" "$(commands_since)" "writev flags=1;"
eq "its contents" "$(cat "$M/atomic")" "from a program"
mark_commands
: >"$M/atomic"
eq ": > f: size 0 at once through this node" "$(stat -c %s "$M/atomic")" "0"
eq ": > f commits one truncation" "$(commands_since)" "writev flags=1;"
eq ": > f: empty" "$(cat "$M/atomic")" ""
echo again >"$M/atomic"
: >"$M/atomic"
stat "$M/atomic" >/dev/null
eq ": > f is committed by its release, or by the next look at the file on this node" \
	"$(tail -n 1 "$CMDLOG" | cut -d' ' -f1,2)" "writev flags=1"
echo again >"$M/atomic"
(: >"$M/atomic"; cat "$M/atomic" >"$TMP/catout"; stat -c %s "$M/atomic" >>"$TMP/catout")
eq ": > f then cat and stat at once" "$(cat "$TMP/catout")" "0"

# An O_TRUNC open held open (one descriptor, so one close): the replacement
# has not happened yet, for this node too. Others see and change the old
# contents (a reader never sees the file empty halfway); the held handle's
# first write carries the truncation, after what others did meanwhile.
# (python3: the shell's `exec 3>` closes twice, which commits, see ": > f".)
if command -v python3 >/dev/null; then
	echo held >"$M/p"
	eq "O_TRUNC open held: stat shows the old size | nothing committed | a reader sees the old contents | nothing committed | an append through another handle goes first | the held handle's write carries the truncation" \
		"$(python3 - "$M/p" "$CMDLOG" <<'PY'
import os, sys, time
path, log = sys.argv[1], sys.argv[2]
mark = [len(open(log).read().splitlines())]
def since():
    time.sleep(0.3)
    lines = open(log).read().splitlines()
    new, mark[0] = lines[mark[0]:], len(lines)
    return ';'.join(' '.join(l.split()[:2]) for l in new)
fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
out = [str(os.stat(path).st_size), since()]
with open(path) as f:
    out.append(repr(f.read()))
out.append(since())
with open(path, 'a') as f:
    f.write('more\n')
out.append(since())
os.write(fd, b'after\n')
os.close(fd)
out.append(since())
print(' | '.join(out))
PY
)" "5 |  | 'held\\n' |  | writev flags=4 | writev flags=1"
	eq "its contents" "$(cat "$M/p")" "after"
fi

# A change from "another node" (the daemon applies it itself on SIGHUP):
# a reader that holds the file open sees it.
echo local >"$M/remote"
if command -v python3 >/dev/null; then
	eq "an open reader sees a remote change" "$(python3 - "$M/remote" "$PID" <<'PY'
import os, signal, sys, time
f = open(sys.argv[1], 'rb')
a = f.read()
os.kill(int(sys.argv[2]), signal.SIGHUP)
time.sleep(0.5)
f.seek(0)
print(a.decode().strip(), '|', f.read().decode().strip())
PY
)" "local | remote 1"
fi
kill -HUP "$PID"
sleep 0.3
eq "a new reader sees the second remote change" "$(cat "$M/remote")" "remote 2"

# --- attributes ---------------------------------------------------------------
ok "chmod 600" chmod 600 "$M/f"
eq "mode after chmod" "$(stat -c %a "$M/f")" "600"
ok "touch -d" touch -d '2020-02-03 04:05:06 UTC' "$M/f"
eq "mtime after touch -d" "$(stat -c %Y "$M/f")" "1580702706"
ok "touch (now)" touch "$M/f"
[ "$(stat -c %Y "$M/f")" -ge "$(($(date +%s) - 60))" ] && eq "touch sets now" 1 1 ||
	fail "touch did not set mtime to now"
ok "chown" chown 1234:5678 "$M/g"
eq "owner after chown" "$(stat -c %u:%g "$M/g")" "1234:5678"

# --- names --------------------------------------------------------------------
ok "mkdir -p" mkdir -p "$M/a/b/c"
ok "a/b/c is a directory" test -d "$M/a/b/c"
ok "ln -s" ln -s ../f "$M/a/link"
eq "readlink" "$(readlink "$M/a/link")" "../f"
eq "cat through the symlink" "$(cat "$M/a/link")" "v2"
ok "ln (hard link)" ln "$M/g" "$M/a/hard"
eq "nlink after ln" "$(stat -c %h "$M/g")" "2"
eq "the hard link's contents" "$(cat "$M/a/hard")" "$(printf 'a\nb')"
echo one >"$M/m1"
echo two >"$M/m2"
ok "mv over an existing file" mv "$M/m1" "$M/m2"
eq "mv: target has the source's contents" "$(cat "$M/m2")" "one"
ok "mv: the source name is gone" test ! -e "$M/m1"
mkdir -p "$LOCAL/tree"
for d in $(seq 10); do
	mkdir "$LOCAL/tree/d$d"
	for f in $(seq 30); do echo "file $d/$f" >"$LOCAL/tree/d$d/f$f"; done
done
ok "cp -r of a 300-file tree" cp -r "$LOCAL/tree" "$M/tree"
ok "diff -r of the copy" diff -r "$LOCAL/tree" "$M/tree"
eq "find counts the files" "$(find "$M/tree" -type f | wc -l)" "300"
ok "mv of a non-empty directory" mv "$M/tree" "$M/a/moved"
ok "diff -r after mv" diff -r "$LOCAL/tree" "$M/a/moved"
ok "rm -r" rm -r "$M/a/moved"
ok "rm -r: gone" test ! -e "$M/a/moved"
fails_with "rmdir of a non-empty directory" "not empty" rmdir "$M/a"
eq "ls lists names" "$(ls "$M/a" | tr '\n' ' ')" "b hard link "
ok "ls -l" ls -l "$M" "$M/a"
ok "ls -laR" ls -laR "$M"
if command -v python3 >/dev/null; then
	echo left >"$M/x1"
	echo right >"$M/x2"
	renameat2() { # renameat2 FROM TO FLAGS: prints 0 or the errno name
		python3 - "$1" "$2" "$3" <<'PY'
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), int(sys.argv[3]))
print(0 if r == 0 else errno.errorcode[ctypes.get_errno()])
PY
	}
	eq "renameat2 RENAME_EXCHANGE" "$(renameat2 "$M/x1" "$M/x2" 2)" "0"
	eq "exchanged" "$(cat "$M/x1") $(cat "$M/x2")" "right left"
	eq "renameat2 RENAME_NOREPLACE over a file: EEXIST" "$(renameat2 "$M/x1" "$M/x2" 1)" "EEXIST"
	eq "renameat2 RENAME_NOREPLACE to a new name" "$(renameat2 "$M/x1" "$M/x3" 1)" "0"
	eq "renamed" "$(cat "$M/x3")" "right"
fi
long255=$(printf 'x%.0s' $(seq 255))
long256=$(printf 'y%.0s' $(seq 256))
ok "a 255-byte name" bash -c "echo ok >'$M/$long255'"
eq "the 255-byte name reads back" "$(cat "$M/$long255")" "ok"
fails_with "a 256-byte name: ENAMETOOLONG" "File name too long" bash -c "echo no >'$M/$long256'"
fails_with "mkdir of a 256-byte name" "File name too long" mkdir "$M/$long256"
ok "mkfifo" mkfifo "$M/fifo"
eq "... is a FIFO" "$(stat -c %F "$M/fifo")" "fifo"
if command -v python3 >/dev/null; then
	eq "a FIFO in the mount carries data between two processes" "$(python3 - "$M/fifo" <<'PY'
import os, sys
if os.fork() == 0:
    with open(sys.argv[1], 'w') as w:
        w.write('through the fifo')
    os._exit(0)
with open(sys.argv[1]) as r:
    print(r.read())
os.wait()
PY
)" "through the fifo"
	ok "bind() of a unix socket in the mount" python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$M/sock')"
	eq "... is a socket" "$(stat -c %F "$M/sock")" "socket"
	ok "mknod(2) of a regular file" python3 -c "import os, stat; os.mknod('$M/regular', stat.S_IFREG | 0o640)"
	eq "... is an empty regular file" "$(stat -c '%F %s %a' "$M/regular")" "regular empty file 0 640"
fi
fails_with "cat of a missing file" "No such file" cat "$M/missing"
fails_with "noclobber (set -C) refuses an existing file" "cannot overwrite" bash -c "set -C; echo x >'$M/f'"
if command -v python3 >/dev/null; then
	fails_with "O_CREAT|O_EXCL of an existing file: EEXIST" "FileExistsError" \
		python3 -c "import os; os.open('$M/f', os.O_CREAT | os.O_EXCL | os.O_WRONLY)"
fi

# --- permissions: the kernel checks modes (default_permissions); the
# caller's uid and gid own what it creates.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	mkdir "$M/pub"
	chmod 777 "$M/pub"
	echo secret >"$M/secret"
	chmod 600 "$M/secret"
	fails_with "a 0600 file is not readable by another user" "Permission denied" \
		as_nobody cat "$M/secret"
	fails_with "... nor writable" "Permission denied" as_nobody bash -c "echo x >'$M/secret'"
	ok "another user creates a file in a 0777 directory" as_nobody bash -c "echo hi >'$M/pub/mine'"
	eq "... owned by that user" "$(stat -c %u:%g "$M/pub/mine")" "65534:65534"
	ok "... and a directory" as_nobody mkdir "$M/pub/dir"
	eq "... owned by that user" "$(stat -c %u:%g "$M/pub/dir")" "65534:65534"
	fails_with "another user cannot chmod root's file" "Operation not permitted" \
		as_nobody chmod 666 "$M/secret"
fi

# --- extended attributes --------------------------------------------------------
ok "setfattr" setfattr -n user.color -v blue "$M/f"
eq "getfattr" "$(getfattr -n user.color --only-values "$M/f")" "blue"
ok "setfattr on a directory" setfattr -n user.d -v 1 "$M/a"
eq "getfattr -d lists it" "$(getfattr -d "$M/a" 2>/dev/null | grep user.d)" 'user.d="1"'
ok "setfattr -x" setfattr -x user.color "$M/f"
fails_with "getfattr after removal" "No such attribute" getfattr -n user.color "$M/f"

# --- many writers, one file ---------------------------------------------------
for w in 1 2 3 4; do
	(for i in $(seq 50); do echo "$w-$i" >>"$M/shared"; done) &
done
wait $(jobs -p | grep -v "^$PID\$" | grep -v "^$WATCHDOG\$") 2>/dev/null
eq ">> from 4 writers loses nothing" "$(wc -l <"$M/shared")" "200"
eq "every line whole" "$(grep -c '^[1-4]-[0-9]*$' "$M/shared")" "200"

# --- no quorum: writes fail with EROFS, reads go on ----------------------------
kill -USR1 "$PID"
sleep 0.2
fails_with "write without quorum: EROFS" "Read-only file system" bash -c "echo x >'$M/f'"
fails_with "mkdir without quorum: EROFS" "Read-only file system" mkdir "$M/nq"
eq "reads go on" "$(cat "$M/s")" "$(printf 'one\ndos\nthree')"
kill -USR2 "$PID"
sleep 0.2
echo back >"$M/f"
eq "writes work again" "$(cat "$M/f")" "back"

ok "df" df "$M"
fails_with "flock without a node session (the fake node has none): ENOLCK" "No locks available" \
	flock "$M/f" true
if command -v python3 >/dev/null; then
	fails_with "fcntl locks are refused: ENOLCK" "No locks available" python3 -c "
import fcntl, sys
f = open('$M/f', 'r+')
try:
    fcntl.lockf(f, fcntl.LOCK_EX)
except OSError as e:
    sys.exit(e.strerror)"
fi

# --- clean stop -----------------------------------------------------------------
cd /
kill -TERM "$PID"
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$PID" 2>/dev/null; then
	fail "the daemon did not stop on SIGTERM"
else
	wait "$PID"
	eq "the daemon exits 0" "$?" "0"
	PID=
fi
if grep -qs " $MNT " /proc/mounts; then fail "the mount is still there"; else eq "unmounted" 1 1; fi

# --- a second daemon on the same data: the tree is there; fusermount3 -u stops it
"$TESTD" "$MNT" "$DATA" "$MAX" 2>>"$TMP/testd.err" &
PID=$!
for _ in $(seq 100); do grep -qs " $MNT " /proc/mounts && break; sleep 0.05; done
eq "after a restart: contents" "$(cat "$M/m2")" "one"
eq "after a restart: names" "$(ls "$M/a" | tr '\n' ' ')" "b hard link "
ok "fusermount3 -u from outside" fusermount3 -u "$MNT"
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$PID" 2>/dev/null; then
	fail "the daemon did not exit after fusermount3 -u"
else
	wait "$PID"
	eq "the daemon exits 0 after an outside unmount" "$?" "0"
	PID=
fi

if [ "$failures" -ne 0 ]; then
	echo "$failures of $n checks failed; daemon stderr:"
	tail -20 "$TMP/testd.err"
	exit 1
fi
echo "all $n checks passed"
exit 0
