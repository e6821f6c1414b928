#!/usr/bin/env bash
# test_install.sh: `meson install` puts the programs, the three man pages and
# the systemd unit where a system looks for them; each page renders without
# a warning, the unit is one systemd accepts, the installed programs run.
. "$(dirname "$0")/lib.sh"
command -v meson >/dev/null || { echo "skip: no meson" >&2; exit 77; }
command -v man >/dev/null || { echo "skip: no man (scripts/install-deps.sh)" >&2; exit 77; }
QFS_TMP=$(mktemp -d /tmp/qfs-e2e.XXXXXX) # lib.sh's cleanup removes it
dest=$QFS_TMP/dest

check 'meson install -C "$QFS_BUILD" --destdir "$dest" --no-rebuild --quiet >"$QFS_TMP/log.install" 2>&1' \
	"meson install --destdir succeeds"

# The one installed file whose path ends in $1, or nothing.
installed() { find "$dest" -path "*/$1" -type f | head -n 1; }

for f in bin/quorumfs bin/quorumctl share/man/man8/quorumfs.8 share/man/man8/quorumctl.8 \
	share/man/man5/quorumfs.conf.5 systemd/system/quorumfs@.service; do
	check '[ -n "$(installed "$f")" ]' "installs $f"
done
check '[ -x "$(installed bin/quorumfs)" ] && [ -x "$(installed bin/quorumctl)" ]' "the programs are executable"
check '"$(installed bin/quorumfs)" --version | grep -q "^quorumfs "' "the installed quorumfs runs"
check '"$(installed bin/quorumctl)" --version | grep -q "^quorumctl "' "the installed quorumctl runs"

for page in man8/quorumfs.8 man8/quorumctl.8 man5/quorumfs.conf.5; do
	p=$(installed "share/man/$page")
	[ -n "$p" ] || continue
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
	check '[ -z "$warnings" ]' "man -l $page renders without warnings${warnings:+: $warnings}"
	text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$p" 2>/dev/null)
	check 'grep -q "^NAME" <<<"$text" && grep -q "^SEE ALSO" <<<"$text"' "$page has a NAME and a SEE ALSO"
	check '! grep -q "@VERSION@" <<<"$text"' "$page carries the version"
done
# Every option of the programs' --help is in their page.
for prog in quorumfs quorumctl; do
	text=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$(installed "share/man/man8/$prog.8")" 2>/dev/null)
	for opt in $("$(installed "bin/$prog")" --help | grep -oE '(^| )--[a-z-]+' | sort -u); do
		check 'grep -q -- "$opt" <<<"$text"' "$prog(8) documents $opt"
	done
done

unit=$(installed systemd/system/quorumfs@.service)
if [ -n "$unit" ]; then
	check 'grep -q "^ExecStart=.*/quorumfs -f " "$unit"' "the unit runs the daemon in the foreground"
	check 'grep -q "^KillSignal=SIGTERM" "$unit" && grep -q "^Restart=on-failure" "$unit"' \
		"the unit stops with SIGTERM and restarts on failure"
	bin=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
	check '[ "$dest$bin" = "$(installed bin/quorumfs)" ]' "the unit's ExecStart is the installed quorumfs ($bin)"
	# systemd's own check, on a copy whose binary is the one in the destdir.
	if command -v systemd-analyze >/dev/null; then
		sed "s#^ExecStart=$bin#ExecStart=$dest$bin#" "$unit" >"$QFS_TMP/quorumfs@.service"
		out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$QFS_TMP/quorumfs@.service" 2>&1)
		check '[ -z "$out" ]' "systemd-analyze verify accepts the unit${out:+: $out}"
	fi
fi
exit $((QFS_FAILS > 0))
