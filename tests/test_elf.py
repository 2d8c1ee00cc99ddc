"""ELF loader: valid programs load at the addresses their headers give, and
malformed files (built here by mutating valid ones) fail with a clear error,
never crash, and leave nothing mapped.

Oracles: the ELF headers themselves, parsed here with `struct` independently
of the C loader, and files built by hand with hand-computed layouts."""
import random
import struct

import pytest

vmpy = pytest.importorskip("vmpy")

ERRORS = tuple({getattr(vmpy, "VmpyError", ValueError), ValueError})
EM_RISCV = 243
PAGE = 4096

ASM_PROGRAM = r"""
    .globl _start
_start:
    li a0, 0
    li a7, 93
    ecall
    .data
value: .dword 0x1122334455667788
    .bss
buffer: .space 10000
"""

C_PROGRAM = r"""
#include <stdio.h>
int table[3000];
int main(void) { printf("%d\n", table[5]); return 0; }
"""


# ---- building ELF files by hand ------------------------------------------------

def make_elf(segments, entry=0x10000, machine=EM_RISCV, etype=2, extra_phdrs=(),
             phoff=64, cls=2, data=1):
    """segments: [(vaddr, bytes, memsz, flags)]; file bytes are placed at
    page-aligned offsets so that p_offset % PAGE == p_vaddr % PAGE."""
    phdrs = []
    body = b""
    nph = len(segments) + len(extra_phdrs)
    first = phoff + 56 * nph
    off = (first + PAGE - 1) // PAGE * PAGE
    for vaddr, content, memsz, flags in segments:
        off += (vaddr - off) % PAGE
        phdrs.append(struct.pack("<IIQQQQQQ", 1, flags, off, vaddr, vaddr, len(content), memsz, PAGE))
        body += b"\0" * (off - first - len(body)) + content
        off += len(content)
    for ph in extra_phdrs:
        phdrs.append(struct.pack("<IIQQQQQQ", *ph))
    ident = b"\x7fELF" + bytes([cls, data, 1, 0]) + b"\0" * 8
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, entry, phoff, 0, 0,
                               64, 56, nph, 64, 0, 0)
    head = ehdr + b"\0" * (phoff - 64) + b"".join(phdrs)
    return head + b"\0" * (first - len(head)) + body


def parse_phdrs(img):
    """(entry, [(type, flags, offset, vaddr, filesz, memsz)]) parsed in Python."""
    entry, phoff = struct.unpack_from("<QQ", img, 24)
    phentsize, phnum = struct.unpack_from("<HH", img, 54)
    out = []
    for i in range(phnum):
        t, fl, off, va, _pa, fs, ms, _al = struct.unpack_from("<IIQQQQQQ", img, phoff + i * phentsize)
        out.append((t, fl, off, va, fs, ms))
    return entry, out


@pytest.fixture(scope="module")
def programs(riscv_cc):
    asm = riscv_cc(ASM_PROGRAM, ".S", flags=["-nostdlib"])
    c = riscv_cc(C_PROGRAM)
    return {"asm": asm, "c": c}


def letters(perms):
    """'r-x' or 'rx' -> 'rx'."""
    return perms.replace("-", "")


def regions(m):
    return [(b, s, letters(p), k) for b, s, p, k in m.regions()]


def new_machine():
    return vmpy.Machine("riscv64")


def assert_rejected(img, *words):
    m = new_machine()
    with pytest.raises(ERRORS) as ei:
        m.load_elf(img)
    msg = str(ei.value).lower()
    for w in words:
        assert w.lower() in msg, (w, msg)
    assert m.regions() == [], "a failed load left memory mapped"
    return msg


# ---- valid files ------------------------------------------------------------------

@pytest.mark.parametrize("which", ["asm", "c"])
def test_load_returns_entry_and_copies_segments(programs, which):
    path = programs[which]
    img = open(path, "rb").read()
    entry, phdrs = parse_phdrs(img)
    m = new_machine()
    assert m.load_elf(path) == entry
    loads = [p for p in phdrs if p[0] == 1 and p[5] > 0]
    assert loads
    for _t, flags, off, va, fs, ms in loads:
        assert m.read(va, fs) == img[off:off + fs]
        tail = min(ms - fs, 3 * PAGE)
        assert m.read(va + fs, tail) == b"\0" * tail
        perms = "".join(c for c, bit in (("r", 4), ("w", 2), ("x", 1)) if flags & bit)
        region = [r for r in m.regions() if r[0] <= va < r[0] + r[1]]
        assert region and letters(region[0][2]) == perms


def test_load_from_bytes_equals_load_from_path(programs):
    img = open(programs["asm"], "rb").read()
    m1, m2 = new_machine(), new_machine()
    assert m1.load_elf(img) == m2.load_elf(programs["asm"])
    assert m1.regions() == m2.regions()


def test_bss_and_partial_page_tail_are_zero():
    code = bytes(range(1, 201))
    img = make_elf([(0x10000, code, 0x3000, 5), (0x20010, b"\xaa" * 100, 0x2000, 6)], entry=0x10004)
    m = new_machine()
    assert m.load_elf(img) == 0x10004
    assert m.read(0x10000, 200) == code
    assert m.read(0x10000 + 200, 0x3000 - 200) == b"\0" * (0x3000 - 200)
    assert m.read(0x20010, 100) == b"\xaa" * 100
    assert m.read(0x20010 + 100, 0x2000 - 100) == b"\0" * (0x2000 - 100)
    # page-aligned extents with the segment permissions
    assert (0x10000, 0x3000, "rx", "ram") in regions(m)
    assert (0x20000, 0x3000, "rw", "ram") in regions(m)


def test_segments_sharing_a_page_get_both_permissions():
    img = make_elf([(0x10000, b"\x13" * 0x800, 0x800, 5), (0x10800, b"\x55" * 0x100, 0x900, 6)])
    m = new_machine()
    m.load_elf(img)
    assert m.read(0x10000, 0x800) == b"\x13" * 0x800
    assert m.read(0x10800, 0x100) == b"\x55" * 0x100
    assert [r[2] for r in regions(m) if r[0] <= 0x10000 < r[0] + r[1]] == ["rwx"]
    assert [r[2] for r in regions(m) if r[0] <= 0x11000 < r[0] + r[1]] == ["rw"]


def test_et_dyn_loads_at_its_link_addresses_without_bias():
    img = make_elf([(0x0, b"\x01" * 64, 64, 5)], entry=0x20, etype=3)
    m = new_machine()
    assert m.load_elf(img) == 0x20
    assert m.read(0, 64) == b"\x01" * 64


# ---- malformed files --------------------------------------------------------------

def test_not_elf():
    assert_rejected(b"#!/bin/sh\necho hi\n" * 10, "not an elf")
    assert_rejected(b"", "not an elf")
    assert_rejected(b"\x7fEL", "not an elf")


def test_truncated_at_many_offsets(programs):
    img = open(programs["c"], "rb").read()
    _entry, phdrs = parse_phdrs(img)
    file_end = max(off + fs for t, _f, off, _v, fs, _m in phdrs if t == 1)
    cuts = list(range(0, 64)) + list(range(64, 64 + 56 * len(phdrs) + 1, 7))
    cuts += [file_end - 1, file_end // 2, file_end - 4096]
    for cut in cuts:
        assert_rejected(img[:cut])


def test_header_fields(programs):
    img = bytearray(open(programs["asm"], "rb").read())

    def mutate(off, fmt, value):
        b = bytearray(img)
        struct.pack_into(fmt, b, off, value)
        return bytes(b)

    assert_rejected(mutate(4, "B", 1), "class")             # ELFCLASS32
    assert_rejected(mutate(5, "B", 2), "endian")            # big-endian
    assert_rejected(mutate(18, "<H", 62), "machine")        # EM_X86_64
    assert_rejected(mutate(16, "<H", 1), "type")            # ET_REL
    assert_rejected(mutate(32, "<Q", len(img) - 10), "program headers")   # phoff near EOF
    assert_rejected(mutate(32, "<Q", 2 ** 64 - 8), "program headers")     # phoff wraps
    assert_rejected(mutate(56, "<H", 0xffff), "program headers")          # huge phnum
    assert_rejected(mutate(56, "<H", 0), "no program headers")
    assert_rejected(mutate(54, "<H", 32), "phentsize")


def test_segment_fields():
    good = [(0x10000, b"\x13" * 100, 200, 5)]
    m = new_machine()
    m.load_elf(make_elf(good))          # the base file is valid

    def mutated(field, value):
        b = bytearray(make_elf(good))
        # the first phdr is at 64; fields: type 0, flags 4, offset 8, vaddr 16, filesz 32, memsz 40
        struct.pack_into("<Q", b, 64 + field, value)
        return bytes(b)

    assert_rejected(mutated(32, 300), "p_filesz")                      # filesz > memsz
    assert_rejected(mutated(8, 10 ** 9), "past the end")               # offset past EOF
    assert_rejected(mutated(8, 2 ** 64 - 50), "past the end")          # offset + filesz wraps
    assert_rejected(mutated(40, 2 ** 64 - 16), "segment")              # memsz wraps
    assert_rejected(mutated(16, 2 ** 64 - 4096), "wrap")               # vaddr + memsz wraps
    assert_rejected(mutated(40, 2 ** 50), "segment")                   # absurd memsz


def test_overlapping_segments():
    img = make_elf([(0x10000, b"\x01" * 0x100, 0x2000, 5), (0x11000, b"\x02" * 0x10, 0x10, 6)])
    assert_rejected(img, "overlap")


def test_no_loadable_segments():
    img = make_elf([], extra_phdrs=[(4, 4, 0, 0, 0, 0, 0, 4)])
    assert_rejected(img, "no loadable")


def test_wrong_machine_message_names_it():
    img = make_elf([(0x10000, b"\x13" * 4, 4, 5)], machine=183)   # EM_AARCH64
    assert_rejected(img, "machine", "183")


def test_random_mutations_never_crash(programs):
    img = open(programs["asm"], "rb").read()
    rng = random.Random(20240601)
    phnum = struct.unpack_from("<H", img, 56)[0]
    loaded = rejected = 0
    for _ in range(400):
        b = bytearray(img)
        for _k in range(rng.randint(1, 4)):
            pos = rng.choice([rng.randrange(64), 64 + rng.randrange(56 * phnum)])
            b[pos] = rng.randrange(256)
        m = new_machine()
        try:
            m.load_elf(bytes(b))
            loaded += 1
        except ERRORS as e:
            assert str(e)
            assert m.regions() == []
            rejected += 1
    assert rejected > 0 and loaded + rejected == 400
