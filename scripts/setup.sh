#!/usr/bin/env bash
# Fresh-machine setup for vmpy on Debian (bookworm): system packages, Python
# packages, then an editable build of vmpy itself. Safe to run again: steps
# whose result is already present are skipped.
#
#   PYTHON=python3.11 scripts/setup.sh     # pick the interpreter (default python3)
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

APT_PACKAGES=(
    build-essential            # host gcc for the extension, libasan/libubsan for `make asan`
    gcc-riscv64-linux-gnu      # guest test programs
    libc6-dev-riscv64-cross    # static glibc for them
    qemu-user                  # oracle: qemu-riscv64
    qemu-system-misc           # oracle: qemu-system-riscv64
    gdb-multiarch              # gdb stub tests
    tcl8.6-dev                 # REPL (tools/repl)
    libedit-dev                # REPL line editing
    libslirp-dev               # virtio-net user-mode networking (optional at build time)
    dpkg-dev                   # apt-get source / dpkg-deb for guest images
    debian-archive-keyring     # trusts the trixie archive in scripts/debian-fetch.sh
    cpio                       # initramfs images
    xz-utils
)
PIP_PACKAGES=(pytest pytest-timeout numpy unicorn capstone pexpect nbclient ipykernel matplotlib pandas nbformat "mypy==2.4.1")   # mypy pinned: new stubtest checks must not break CI by surprise

export PIP_ROOT_USER_ACTION=ignore

log() { echo "setup: $*" >&2; }

# Debian packages: only touch apt when something is missing (keeps reruns fast
# and offline-friendly).
missing=()
for p in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    SUDO=
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { log "not root and no sudo: cannot install ${missing[*]}"; exit 1; }
        SUDO=sudo
    fi
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages.
log "pip install ${PIP_PACKAGES[*]}"
"$PYTHON" -m pip install -q "${PIP_PACKAGES[@]}"

# asmjit for the JIT: Debian's source package, compiled -fPIC by setup.py.
# Without it vmpy still builds (interpreter only), so CI must not skip it.
log "asmjit source (scripts/asmjit-fetch.sh)"
scripts/asmjit-fetch.sh >/dev/null

# vmpy itself, editable (the C extension is built in place, without build
# isolation: setuptools/wheel are already here). `make build` skips this when
# no source changed since the last build.
log "make build (pip install -e ., vmpy._core)"
make --no-print-directory build PYTHON="$PYTHON" >&2
log "done"
