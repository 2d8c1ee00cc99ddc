/* rv_disasm_main.c — standalone harness for the RISC-V decoder/disassembler,
 * usable before (and independently of) the Python binding.
 *
 *   rv_disasm_main              one hex word per line on stdin (a value whose
 *                               low two bits are not 11 is a compressed
 *                               instruction); prints, tab separated:
 *                               len text op-name rd rs1 rs2 rs3 imm rm
 *   rv_disasm_main --buflen N   disassembles each word into an N-byte buffer
 *                               guarded by canaries; prints "ok<TAB>text" or
 *                               "OVERFLOW"
 *   rv_disasm_main --bench      decode speed over pseudo-random words
 *
 * Build: gcc -std=c11 -O2 -Icsrc tests/native/rv_disasm_main.c \
 *            csrc/core/riscv64/decode.c csrc/core/riscv64/disasm.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/riscv64/rv.h"

static int read_word(uint32_t *w)
{
    char line[128], *end;
    while (fgets(line, sizeof line, stdin)) {
        unsigned long v = strtoul(line, &end, 16);
        if (end != line) { *w = (uint32_t)v; return 1; }
    }
    return 0;
}

static void dump(void)
{
    uint32_t w;
    char text[128];
    while (read_word(&w)) {
        rv_insn in;
        rv_decode(w, &in);
        int len = rv_disasm(0, w, text, sizeof text);
        printf("%d\t%s\t%s\t%u\t%u\t%u\t%u\t%d\t%u\n", len, text, rv_op_mnemonic[in.op],
               in.rd, in.rs1, in.rs2, in.rs3, (int)in.imm, in.rm);
    }
}

static void guarded(size_t n)
{
    uint32_t w;
    unsigned char buf[256];
    if (n > 200) n = 200;
    while (read_word(&w)) {
        size_t i;
        int bad = 0;
        memset(buf, 0xAA, sizeof buf);
        rv_disasm(0, w, n ? (char *)buf : NULL, n);
        for (i = n; i < sizeof buf; i++) bad |= buf[i] != 0xAA;
        if (n && !memchr(buf, 0, n)) bad = 1;      /* must be NUL terminated */
        if (bad) printf("OVERFLOW\n");
        else printf("ok\t%s\n", n ? (char *)buf : "");
    }
}

static void bench(void)
{
    enum { N = 1 << 16, ROUNDS = 200 };
    static uint32_t words[N];
    uint32_t s = 12345, sink = 0;
    rv_insn in;
    for (int i = 0; i < N; i++) { s = s * 1664525u + 1013904223u; words[i] = s; }
    clock_t t0 = clock();
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < N; i++) { rv_decode(words[i], &in); sink += in.op; }
    double ns = (double)(clock() - t0) / CLOCKS_PER_SEC * 1e9 / ((double)N * ROUNDS);
    printf("decode: %.2f ns/insn (sink %u)\n", ns, sink);
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "--buflen")) guarded((size_t)strtoul(argv[2], NULL, 0));
    else if (argc > 1 && !strcmp(argv[1], "--bench")) bench();
    else dump();
    return 0;
}
