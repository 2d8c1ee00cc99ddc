#!/usr/bin/env bash
# Demo: a small C program cross-compiled for riscv64, then Debian's riscv64
# busybox, both run by vmpy's Linux user mode with --stats (instruction count,
# time, MIPS on stderr). Needs scripts/setup.sh to have run once.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VMPY=("$PYTHON" -m vmpy run --stats)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/primes.c" <<'C'
#include <stdio.h>
#include <stdlib.h>

/* Counts primes below N with a sieve, then prints a few facts about them. */
int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    if (n < 2) n = 2;
    char *composite = calloc(n, 1);
    if (!composite) return 1;
    int count = 0, last = 0;
    for (int i = 2; i < n; i++) {
        if (composite[i]) continue;
        count++, last = i;
        for (long j = (long)i * i; j < n; j += i) composite[j] = 1;
    }
    printf("%d primes below %d, the largest is %d\n", count, n, last);
    free(composite);
    return 0;
}
C
riscv64-linux-gnu-gcc -O2 -static -o "$work/primes" "$work/primes.c"
echo "== vmpy run primes 1000000"
"${VMPY[@]}" "$work/primes" 1000000

echo "== vmpy run busybox (Debian trixie riscv64 busybox-static)"
busybox=$(./scripts/debian-fetch.sh)
"${VMPY[@]}" "$busybox" sh -c 'i=0; s=0; while [ $i -lt 1000 ]; do s=$((s + i)); i=$((i + 1)); done; echo "busybox sh: sum 0..999 = $s"'
printf 'hello from busybox\n' > "$work/hello.txt"
"${VMPY[@]}" "$busybox" sha256sum "$work/hello.txt"
