#!/usr/bin/env bash
# install-deps.sh: install, with apt-get, the Debian 12 packages quorumfs needs
# to build, test and run. Installs only what is missing; quiet when all is there.
set -euo pipefail

packages=(
	meson ninja-build pkg-config gcc
	libfuse3-dev fuse3          # the mount
	libuv1-dev                  # the event loop
	libmsgpack-dev              # wire and command encoding
	liblmdb-dev lmdb-utils      # storage
	libcmocka-dev               # unit tests
	libsodium-dev               # peer authentication and encryption
	libinih-dev                 # the INI config parser
	libmicrohttpd-dev           # the HTTP status endpoint (/status, /metrics, the page)
	clang libclang-rt-14-dev    # libFuzzer targets
	cppcheck                    # the static analysis of scripts/test.sh
	attr                        # setfattr/getfattr in e2e tests
	sqlite3                     # one SQLite database from two nodes (e2e locks)
	iproute2 util-linux procps psmisc  # namespaces, flock, pgrep, fuser for tests
	jq curl                     # e2e tests read the status JSON, over HTTP too
	man-db groff-base           # man -l renders the man pages (e2e install)
	chromium fonts-dejavu-core  # the status page's browser test (headless), with a font
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
