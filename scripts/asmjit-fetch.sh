#!/usr/bin/env bash
# Fetches asmjit's Debian source package into a cache directory, for setup.py
# to compile with -fPIC (Debian's libasmjit-dev is a non-PIC static library,
# which cannot go into a Python extension).
#
# A private apt configuration (own sources list, state and cache dirs) adds a
# deb-src entry for the machine's suite without touching the system's apt.
# The mirror URI and suite come from the machine's own apt sources.
#
#   scripts/asmjit-fetch.sh [DEST]      # default: build/asmjit-src
# Prints the path of the unpacked source tree (the one holding src/asmjit).
set -euo pipefail

cd "$(dirname "$0")/.."
DEST=${1:-${VMPY_ASMJIT_DIR:-build/asmjit-src}}
log() { echo "asmjit-fetch: $*" >&2; }

found=$(find "$DEST" -maxdepth 3 -type d -path '*/src/asmjit' 2>/dev/null | head -1 || true)
if [[ -n $found ]]; then
    dirname "$(dirname "$found")"
    exit 0
fi
command -v apt-get >/dev/null || { log "no apt-get"; exit 1; }
command -v dpkg-source >/dev/null || { log "dpkg-source missing (apt-get install dpkg-dev)"; exit 1; }

# First "URIs:"/"Suites:" of a deb822 file, else the first deb line.
uri= suite=
for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    uri=$(awk '/^URIs:/ {print $2; exit}' "$f")
    suite=$(awk '/^Suites:/ {print $2; exit}' "$f")
    [[ -n $uri && -n $suite ]] && break
done
if [[ -z $uri && -f /etc/apt/sources.list ]]; then
    read -r uri suite < <(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i+1); exit }' /etc/apt/sources.list)
fi
[[ -n $uri && -n $suite ]] || { log "cannot find the apt mirror in /etc/apt"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$DEST"
echo "deb-src $uri $suite main" > "$tmp/sources.list"
opts=(-o "Dir::Etc::sourcelist=$tmp/sources.list" -o "Dir::Etc::sourceparts=-"
      -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache"
      -o "Dir::State::status=/var/lib/dpkg/status" -o "Debug::NoLocking=1"
      -o "APT::Sandbox::User=$(id -un)")
log "deb-src $uri $suite"
apt-get "${opts[@]}" -qq update >&2
absdest=$(cd "$DEST" && pwd)
(cd "$absdest" && apt-get "${opts[@]}" -qq source --only-source asmjit >&2)
found=$(find "$absdest" -maxdepth 3 -type d -path '*/src/asmjit' | head -1)
[[ -n $found ]] || { log "no src/asmjit in the source package"; exit 1; }
dirname "$(dirname "$found")"
