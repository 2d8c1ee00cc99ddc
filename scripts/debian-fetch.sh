#!/usr/bin/env bash
# Fetch Debian trixie riscv64 packages (guest images: busybox-static, later
# linux-image-riscv64 and opensbi) and extract them into the user's cache.
#
#   scripts/debian-fetch.sh                    -> prints .../busybox-static/bin/busybox
#   scripts/debian-fetch.sh PACKAGE [FILE]     -> prints the extracted root of PACKAGE,
#                                                 or the path of FILE inside it
#   --refresh                                  re-download the package lists first
#   --follow                                   PACKAGE is a metapackage (linux-image-riscv64):
#                                              fetch its first dependency instead, cached
#                                              under the metapackage's name
#
# Why a private apt configuration: the host's apt setup must not change (no
# foreign architecture added, no root needed); we only borrow the machine's
# mirror URI, read from its own sources at run time, so the repo never names
# a mirror host. Everything lands under ${XDG_CACHE_HOME:-~/.cache}/vmpy/debian.
set -euo pipefail

SUITE=${VMPY_DEBIAN_SUITE:-trixie}
ARCH=${VMPY_DEBIAN_ARCH:-riscv64}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/vmpy/debian/$SUITE-$ARCH

die() { echo "debian-fetch: $*" >&2; exit 1; }

REFRESH=0 FOLLOW=0
while [[ ${1:-} == --* ]]; do
    case $1 in
        --refresh) REFRESH=1 ;;
        --follow) FOLLOW=1 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
PKG=${1:-busybox-static}
FILE=${2:-}
if [[ $# -eq 0 ]]; then FILE=bin/busybox; fi
[[ $PKG =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || die "bad package name: $PKG"

# The mirror: first non-security URI of the machine's apt sources
# (deb822 *.sources first, then the one-line sources.list format).
mirror_uri() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        uri=$(awk 'tolower($1)=="uris:" { for (i = 2; i <= NF; i++) print $i }' "$f" \
              | grep -v -- '-security' | head -n1 || true)
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        uri=$(awk '$1=="deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i ~ /:\/\//) { print $i; break } }' "$f" \
              | grep -v -- '-security' | head -n1 || true)
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    return 1
}

APTDIR=$CACHE/apt
APT_OPTS=(
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
    -o "Dir::Etc::Preferences=$APTDIR/preferences"
    -o "Dir::Etc::PreferencesParts=$APTDIR/preferences.d"
    -o "Dir::State=$APTDIR/state"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::State::status=$APTDIR/status"
    -o "Dir::Cache=$APTDIR/cache"
    -o "APT::Architecture=$ARCH"
    -o "APT::Architectures::=$ARCH"
    -o "Acquire::Languages=none"
    -q
)
# As root apt drops to the _apt user for downloads; that user cannot enter
# root's home, so keep the download as the invoking user instead.
if [[ $(id -u) -eq 0 ]]; then APT_OPTS+=(-o "APT::Sandbox::User=root"); fi

setup_apt() {
    local uri
    uri=$(mirror_uri) || die "no apt source URI found in /etc/apt"
    [[ -r $KEYRING ]] || die "missing $KEYRING (apt-get install debian-archive-keyring)"
    mkdir -p "$APTDIR"/{sources.list.d,preferences.d,state,lists/partial,cache/archives/partial}
    touch "$APTDIR/status"
    echo "deb [arch=$ARCH signed-by=$KEYRING] $uri $SUITE main" > "$APTDIR/sources.list.new"
    if ! cmp -s "$APTDIR/sources.list.new" "$APTDIR/sources.list" 2>/dev/null; then
        mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"
        REFRESH=1
    else
        rm -f "$APTDIR/sources.list.new"
    fi
    if [[ $REFRESH -eq 1 ]] || ! ls "$APTDIR"/lists/*_Packages* >/dev/null 2>&1; then
        apt-get "${APT_OPTS[@]}" update >"$APTDIR/update.log" 2>&1 \
            || { cat "$APTDIR/update.log" >&2; die "apt-get update failed"; }
    fi
}

# Extract once; the stamp names the .deb so a --refresh that finds a newer
# version re-extracts, and a half-finished extraction is never used.
fetch() {
    local pkg=$1 root debs=$CACHE/debs deb
    root=$CACHE/root/$pkg
    if [[ $REFRESH -eq 0 && -f $root/.vmpy-stamp ]]; then echo "$root"; return; fi
    setup_apt
    if [[ $FOLLOW -eq 1 ]]; then
        pkg=$(apt-cache "${APT_OPTS[@]}" depends "$pkg" 2>/dev/null \
              | awk '$1 == "Depends:" { print $2; exit }')
        [[ -n $pkg ]] || die "cannot resolve the dependency of $1"
    fi
    mkdir -p "$debs"
    (cd "$debs" && apt-get "${APT_OPTS[@]}" download "$pkg" >"$APTDIR/download.log" 2>&1) \
        || { cat "$APTDIR/download.log" >&2; die "apt-get download $pkg failed"; }
    deb=$(ls -t "$debs/${pkg}"_*_"$ARCH".deb "$debs/${pkg}"_*_all.deb 2>/dev/null | head -n1 || true)
    [[ -n $deb ]] || die "downloaded no .deb for $pkg"
    if [[ -f $root/.vmpy-stamp && $(cat "$root/.vmpy-stamp") == "$(basename "$deb")" ]]; then
        echo "$root"; return
    fi
    rm -rf "$root.tmp" && mkdir -p "$root.tmp"
    dpkg-deb -x "$deb" "$root.tmp"
    basename "$deb" > "$root.tmp/.vmpy-stamp"
    rm -rf "$root" && mv "$root.tmp" "$root"
    echo "$root"
}

mkdir -p "$CACHE"
# One fetch at a time per cache (parallel test sessions share it).
exec 9>"$CACHE/.lock"
flock 9
ROOT=$(fetch "$PKG")
if [[ -n $FILE ]]; then
    # trixie is merged-/usr: bin/busybox ships as usr/bin/busybox.
    for cand in "$FILE" "usr/$FILE"; do
        if [[ -e $ROOT/$cand ]]; then echo "$ROOT/$cand"; exit 0; fi
    done
    die "$PKG has no $FILE"
else
    echo "$ROOT"
fi
