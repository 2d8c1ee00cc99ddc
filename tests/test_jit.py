"""The asmjit JIT engines ("jit": compile on first execution, "auto":
interpret cold code, compile hot blocks) against hand-computed results and
against qemu-riscv64.

Expected values here are worked out by hand from the programs (or come from
qemu); never from one of our own engines."""
import threading
import time

import pytest

import rvasm
import test_random_diff as trd

vmpy = pytest.importorskip("vmpy")

ENGINES = ["jit", "auto"]
BASE = 0x10000


# A loop that rewrites the immediate of an addi in its own page (a store into
# the page it runs from), then calls it: s1 = 1 + 2 + ... + (end - 1).
SMC_LOOP = """
        li s0, 1
        li s1, 0
        la s2, target
    outer:
        slli t0, s0, 20          # imm field of addi
        li t1, 0x00050513        # addi a0, a0, 0
        or t1, t1, t0
        sw t1, 0(s2)
        fence.i
        li a0, 0
        jal ra, target
        add s1, s1, a0
        addi s0, s0, 1
        li t2, {end}
        bne s0, t2, outer
        ebreak
    target:
        addi a0, a0, 0
        ret
"""


def machine(engine):
    try:
        return vmpy.Machine("riscv64", engine=engine)
    except Exception as e:          # built without asmjit: a reported failure
        pytest.fail("engine %s unavailable: %s" % (engine, e))


def load(m, source, size=0x1000):
    # No compressed forms: the hand models below count 4 bytes per insn.
    code = rvasm.asm(".option norvc\n" + source)
    m.map(BASE, size, "rwx")
    m.write(BASE, code)
    m.cpus[0].pc = BASE
    return code


def test_engines_are_listed_and_switchable():
    m = machine("jit")
    assert m.engine == "jit"
    m.engine = "interp"
    assert m.engine == "interp"
    m.engine = "auto"
    assert m.engine == "auto"
    with pytest.raises(Exception):
        m.engine = "no-such-engine"
    assert m.engine == "auto"


LOOP = """
    li a0, 0
    li a1, 1000
loop:
    add a0, a0, a1
    addi a1, a1, -1
    bnez a1, loop
    ebreak
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_counted_loop_exact_result_and_count(engine):
    m = machine(engine)
    load(m, LOOP)
    reason = m.run()
    c = m.cpus[0]
    assert reason == "trap"
    assert c["a0"] == sum(range(1, 1001))     # 500500
    assert c["a1"] == 0
    # li, li (2 insns), 3 per iteration, and ebreak does not retire
    assert c.icount == 2 + 3 * 1000
    assert c.pc == BASE + 20                  # the ebreak


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("count", [1, 2, 3, 7, 100, 2999, 3001])
def test_count_stops_exactly_inside_compiled_loops(engine, count):
    m = machine(engine)
    load(m, LOOP)
    assert m.run(count=count) == "count"
    c = m.cpus[0]
    assert c.icount == count
    # Hand model of the program: 2 setup insns, then add/addi/bnez.
    a0, a1, pc, n = 0, 1000, BASE + 8, count - 2
    if count == 1:
        a0, a1, pc = 0, 0, BASE + 4
    for i in range(max(n, 0)):
        k = i % 3
        if k == 0:
            a0 += a1
            pc += 4
        elif k == 1:
            a1 -= 1
            pc += 4
        else:
            pc = BASE + 8 if a1 else pc + 4
    assert c.pc == pc
    assert c["a0"] == a0
    if count > 1:
        assert c["a1"] == a1


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("access", ["ld t0, 0(a0)", "amoadd.d t0, t2, (a0)"])
def test_fault_inside_a_compiled_block_is_precise(engine, access):
    m = machine(engine)
    load(m, """
        li a0, 0x20000
        li t1, 0
        li t2, 7
    loop:
        %s
        addi a0, a0, 8
        addi t1, t1, 1
        j loop
    """ % access)
    m.map(0x20000, 0x1000, "rw")            # 512 doublewords, then unmapped
    assert m.run() == "fault"
    c = m.cpus[0]
    assert c["a0"] == 0x21000
    assert c["t1"] == 512
    assert c.pc == BASE + 12                  # the access
    assert c.icount == 3 + 4 * 512
    added = 7 if access.startswith("amo") else 0
    assert m.read(0x20000, 0x1000) == added.to_bytes(8, "little") * 512


@pytest.mark.parametrize("engine", ["jit", "auto", "interp"])
@pytest.mark.parametrize("target", [0, 2, 0x2000, 0x10000000])
def test_indirect_jump_to_unmapped_address_faults(engine, target):
    """A call through a null (or wild) function pointer from compiled code
    is a fetch fault at the target, with ra set: the jump cache's empty
    entries must not match pc 0 (they once did: a host jump to address 0).
    The jalr runs in a hot loop first, so auto compiles it too."""
    m = machine(engine)
    # Code at BASE + 0x100: a block at BASE would sit in jump-cache entry 0
    # (pc 0's entry) and hide an empty entry that matches pc 0.
    load(m, """
        .space 0x100
        la s0, callee
        li s1, 100
    loop:
        jalr ra, 0(s0)
        addi s1, s1, -1
        bnez s1, loop
        la t0, pointer
        ld s0, 0(t0)             # loaded, not a constant the JIT could fold
        jalr ra, 0(s0)
        ebreak
    callee:
        ret
        .balign 8
    pointer:
        .dword %d
    """ % target)
    m.cpus[0].pc = BASE + 0x100
    assert m.run(count=100_000) == "fault"
    c = m.cpus[0]
    assert c.pc == target and c.fault()["addr"] == target and c.fault()["access"] == "x"
    assert c["ra"] == BASE + 0x100 + 4 * 10 and c["s1"] == 0    # la 2, li 1, loop 3, la 2, ld 1, then jalr


@pytest.mark.parametrize("engine", ENGINES)
def test_atomics_in_a_compiled_loop_by_hand(engine):
    m = machine(engine)
    load(m, """
        li a0, 0x20000           # word counter
        li a1, 0x20008           # doubleword max
        li a2, 0x20010           # word bumped by lr/sc
        li s0, 0
        li s1, 1000
        li s2, 0
        li t3, 0
    loop:
        li t0, 3
        amoadd.w t1, t0, (a0)
        add t3, t3, t1
        amomax.d t2, s0, (a1)
        lr.w t4, (a2)
        addi t4, t4, 1
        sc.w t5, t4, (a2)
        or s2, s2, t5
        addi s0, s0, 1
        bne s0, s1, loop
        li t0, -5
        amoswap.w t6, t0, (a0)
        amominu.w a3, zero, (a0)
        sc.w a4, t0, (a2)        # no reservation left: fails
        ebreak
    """)
    m.map(0x20000, 0x1000, "rw")
    assert m.run() == "trap"
    c = m.cpus[0]
    assert c["t1"] == 3 * 999 and c["t3"] == 3 * sum(range(1000))
    assert c["t2"] == 998 and int.from_bytes(m.read(0x20008, 8), "little") == 999
    assert c["s2"] == 0 and int.from_bytes(m.read(0x20010, 4), "little") == 1000
    assert c["t6"] == 3000
    assert c["a3"] == 2**64 - 5                  # the old word, sign-extended
    assert int.from_bytes(m.read(0x20000, 4), "little") == 0
    assert c["a4"] == 1
    assert c.icount == 9 + 10 * 1000 + 4         # two of the li are lui + addi


@pytest.mark.parametrize("engine", ENGINES)
def test_store_fault_changes_nothing_after_it(engine):
    m = machine(engine)
    load(m, """
        li a0, 0x20ff8
        li a1, 0x1122334455667788
        sd a1, 0(a0)
        sd a1, 8(a0)
        li a2, 99
        ebreak
    """)
    m.map(0x20000, 0x1000, "rw")
    assert m.run() == "fault"
    c = m.cpus[0]
    assert c["a2"] == 0
    assert m.read(0x20ff8, 8) == (0x1122334455667788).to_bytes(8, "little")


@pytest.mark.parametrize("engine", ENGINES)
def test_write_into_code_is_seen(engine):
    m = machine(engine)
    code = load(m, """
        li a1, 200
    loop:
        addi a0, a0, 1
        addi a1, a1, -1
        bnez a1, loop
        ebreak
    """)
    assert m.run() == "trap"
    assert m.cpus[0]["a0"] == 200
    # Patch `addi a0, a0, 1` into `addi a0, a0, 5` and run the loop again.
    new = rvasm.asm(".option norvc\naddi a0, a0, 5")
    off = 4                                 # after `li a1, 200`
    m.write(BASE + off, new)
    c = m.cpus[0]
    c["a0"] = 0
    c["a1"] = 200
    c.pc = BASE + off
    assert m.run() == "trap"
    assert c["a0"] == 1000


@pytest.mark.parametrize("engine", ENGINES)
def test_self_modifying_code_in_guest(engine):
    m = machine(engine)
    load(m, SMC_LOOP.format(end=51))
    assert m.run() == "trap"
    assert m.cpus[0]["s1"] == 50 * 51 // 2


@pytest.mark.parametrize("engine", ENGINES)
def test_code_hook_added_mid_run_fires_for_every_instruction(engine):
    m = machine(engine)
    load(m, LOOP)
    assert m.run(count=1500) == "count"     # hot and compiled by now
    seen = []
    h = m.on_code(lambda cpu, addr, size: seen.append(addr), BASE, BASE + 0x1000)
    assert m.run(count=30) == "count"
    assert len(seen) == 30
    # the loop body addresses only, in order
    assert set(seen) <= {BASE + 8, BASE + 12, BASE + 16}
    h.remove()
    assert m.run() == "trap"
    assert m.cpus[0]["a0"] == 500500
    assert len(seen) == 30


@pytest.mark.parametrize("engine", ENGINES)
def test_block_hook_and_breakpoint_in_hot_loop(engine):
    m = machine(engine)
    load(m, LOOP)
    assert m.run(count=600) == "count"
    blocks = []
    m.on_block(lambda cpu, addr, size: blocks.append(addr), BASE + 8, BASE + 12)
    assert m.run(count=30) == "count"
    assert len(blocks) == 10                # one per iteration of the 3-insn loop
    assert m.run(until=BASE + 16) == "until"
    assert m.cpus[0].pc == BASE + 16


@pytest.mark.parametrize("engine", ENGINES)
def test_memory_hooks_see_compiled_accesses(engine):
    m = machine(engine)
    load(m, """
        li a0, 0x20000
        li a1, 16
    loop:
        sd a1, 0(a0)
        ld a2, 0(a0)
        addi a0, a0, 8
        addi a1, a1, -1
        bnez a1, loop
        ebreak
    """)
    m.map(0x20000, 0x1000, "rw")
    m.run(count=20)
    writes, reads = [], []
    m.on_mem_write(lambda cpu, a, s, v: writes.append((a, v)), 0x20000, 0x21000)
    m.on_mem_read(lambda cpu, a, s, v: reads.append((a, v)), 0x20000, 0x21000)
    assert m.run() == "trap"
    # 20 insns = 2 setup + 3 full iterations (a1 16..14) + 3 insns of the 4th
    # (sd, ld, addi done for a1 = 13): hooks see iterations a1 = 12..1.
    assert [v for _, v in writes] == list(range(12, 0, -1))
    assert reads == writes


@pytest.mark.parametrize("engine", ENGINES)
def test_stop_and_timeout_interrupt_an_endless_compiled_loop(engine):
    m = machine(engine)
    load(m, "loop:\n addi a0, a0, 1\n j loop\n")
    t0 = time.monotonic()
    assert m.run(timeout=0.3) == "timeout"
    assert time.monotonic() - t0 < 5
    assert m.cpus[0]["a0"] > 1000
    threading.Timer(0.3, m.stop).start()
    assert m.run() == "stop"
    # the count stays exact: a0 counts the addi's, two instructions per trip
    c = m.cpus[0]
    assert c.icount in (2 * c["a0"], 2 * c["a0"] - 1)


@pytest.mark.parametrize("engine", ENGINES)
def test_zb_and_m_results_by_hand(engine):
    m = machine(engine)
    load(m, """
        li a0, -7
        li a1, 2
        div a2, a0, a1          # -3
        rem a3, a0, a1          # -1
        divu a4, a0, zero       # all ones
        mulh a5, a0, a0         # 0
        mulhu a6, a0, a0        # (2^64-7)^2 >> 64 = 2^64-14
        sh3add a7, a1, a1       # 2*8+2 = 18
        li t0, 0x00ff0000
        clz t1, t0              # 40
        ctz t2, t0              # 16
        cpop t3, t0             # 8
        rev8 t4, t0             # 0x0000ff0000000000
        bexti t5, t0, 17        # 1
        max t6, a0, a1          # 2
        minu s2, a0, a1         # 2
        rori s3, a1, 2          # 1 << 63
        sext.b s4, t0           # 0
        orc.b s5, a1            # 0xff
        ebreak
    """)
    assert m.run() == "trap"
    c = m.cpus[0]
    M = (1 << 64) - 1
    assert c["a2"] == -3 & M and c["a3"] == -1 & M and c["a4"] == M
    assert c["a5"] == 0 and c["a6"] == 0xfffffffffffffff2
    assert c["a7"] == 18
    assert (c["t1"], c["t2"], c["t3"]) == (40, 16, 8)
    assert c["t4"] == 0x0000ff0000000000 and c["t5"] == 1
    assert c["t6"] == 2 and c["s2"] == 2 and c["s3"] == 1 << 63
    assert c["s4"] == 0 and c["s5"] == 0xff


# ---- against qemu-riscv64 ---------------------------------------------------

@pytest.mark.qemu
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", [11, 12, 13, 14])
@pytest.mark.parametrize("fp", [False, True])
def test_random_streams_match_qemu(riscv_cc, qemu_run, vmpy_run, tmp_path, monkeypatch,
                                   engine, seed, fp):
    monkeypatch.setattr(trd, "ENGINE", engine)
    trd.differential(riscv_cc, qemu_run, vmpy_run, 7000 + seed, trd.N_FAST, fp, tmp_path)


@pytest.mark.qemu
@pytest.mark.parametrize("seed", [21, 22, 23, 24, 25, 26])
@pytest.mark.parametrize("fp", [False, True])
def test_random_loops_match_qemu(riscv_cc, qemu_run, vmpy_run, tmp_path, monkeypatch, seed, fp):
    """Random bodies repeated by counted loops: compiled self-loops, side
    exits and registers kept across iterations, against qemu."""
    monkeypatch.setattr(trd, "ENGINE", "jit")
    trd.differential(riscv_cc, qemu_run, vmpy_run, 7100 + seed, trd.N_FAST, fp, tmp_path, loops=True)


SMC_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <sys/mman.h>
int main(void)
{
    uint32_t *code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long sum = 0;
    for (int i = 0; i < 300; i++) {
        code[0] = 0x00050513u | ((uint32_t)(i & 0x7ff) << 20);  /* addi a0, a0, i */
        code[1] = 0x00008067u;                                  /* ret */
        __builtin___clear_cache((char *)code, (char *)(code + 2));
        for (int k = 0; k < 20; k++)
            sum = ((long (*)(long))code)(sum);
    }
    printf("%ld\n", sum);
    return 0;
}
"""


@pytest.mark.qemu
@pytest.mark.parametrize("engine", ENGINES)
def test_self_modifying_program_matches_qemu(riscv_cc, qemu_run, vmpy_run, engine):
    elf = riscv_cc(SMC_C)
    want = qemu_run(elf)
    got = vmpy_run(elf, engine=engine)
    assert want[0] == 0 and want[1].strip() == str(sum(range(300)) * 20).encode()
    assert got[:2] == want[:2]


@pytest.mark.qemu
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("cmd", [["sh", "-c", "i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; echo $i"],
                                 ["sh", "-c", "sort -n | uniq | wc -l"],   # forks: code memory per child
                                 ["sort", "-n"], ["md5sum"]])
def test_busybox_under_jit(busybox, qemu_run, vmpy_run, engine, cmd):
    data = b"".join(b"%d\n" % ((i * 7919) % 1000) for i in range(2000))
    want = qemu_run(busybox, cmd, stdin=data)
    got = vmpy_run(busybox, cmd, stdin=data, engine=engine)
    assert want[0] == 0
    assert got[:2] == want[:2]



def test_auto_stops_recompiling_code_that_keeps_changing(tmp_path):
    """A loop that rewrites its own page 2000 times: with a fixed threshold of
    8, auto would compile the page's blocks about 500 times; the adaptive
    threshold (doubling after each invalidation) keeps it to a few dozen.
    The result is worked out by hand: 1 + 2 + ... + 2000."""
    import subprocess
    import sys
    code = rvasm.asm(".option norvc\n" + SMC_LOOP.format(end=2001))
    (tmp_path / "smc.bin").write_bytes(code)
    script = (
        "import sys, vmpy\n"
        "m = vmpy.Machine('riscv64', engine='auto')\n"
        f"m.map({BASE}, 0x1000, 'rwx')\n"
        f"m.write({BASE}, open(sys.argv[1], 'rb').read())\n"
        f"m.cpus[0].pc = {BASE}\n"
        "assert m.run() == 'trap'\n"
        "print(m.cpus[0]['s1'])\n"
        "del m\n")
    env = dict(__import__("os").environ, VMPY_JIT_STATS="1", VMPY_JIT_WARMUP="0",
               VMPY_JIT_THRESHOLD="8")
    p = subprocess.run([sys.executable, "-c", script, str(tmp_path / "smc.bin")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout) == 2000 * 2001 // 2
    import re
    compiled = re.search(r"jit: (\d+) blocks compiled", p.stderr)
    assert compiled, p.stderr
    assert 2 <= int(compiled.group(1)) <= 60, p.stderr
