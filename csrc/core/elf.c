/* elf.c — loads the PT_LOAD segments of an ELF64 little-endian image.
 *
 * The image is untrusted: every offset, size and address is checked before
 * it is used, in 64-bit arithmetic that cannot wrap, and a failed load
 * unmaps whatever it had mapped so the machine is left as it was. */
#include "machine.h"
#include "linux_abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EI_NIDENT 16
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_EXEC 2
#define ET_DYN 3
#define PT_LOAD 1
#define PT_PHDR 6
#define PF_X 1
#define PF_W 2
#define PF_R 4
#define EHDR_SIZE 64
#define PHDR_SIZE 56
/* More program headers than any real linker emits; bounds the work. */
#define MAX_PHNUM 4096
/* A larger segment is a corrupt header, not a program: refuse it before
 * asking the host for that much memory. */
#define MAX_SEGMENT (1ull << 34)

typedef struct elf_seg {
    uint64_t offset, vaddr, filesz, memsz;
    int prot;
} elf_seg;

/* Little-endian field readers: the image may be unaligned. */
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int prot_of(uint32_t flags)
{
    return ((flags & PF_R) ? VM_PROT_R : 0) | ((flags & PF_W) ? VM_PROT_W : 0) |
           ((flags & PF_X) ? VM_PROT_X : 0);
}

/* e_machine the machine's ISA accepts. */
static uint16_t expected_machine(const vm_machine *m)
{
    if (m->isa->linux_abi)
        return m->isa->linux_abi->elf_machine;
    return 243; /* EM_RISCV: the only ISA without a Linux ABI would still be RISC-V */
}

static int check_header(vm_machine *m, const uint8_t *p, size_t len)
{
    if (len < 4 || memcmp(p, "\177ELF", 4) != 0)
        return vm_set_error(m, VM_EFORMAT, "not an ELF file (bad magic)");
    if (len < EHDR_SIZE)
        return vm_set_error(m, VM_EFORMAT, "ELF header truncated (%zu bytes, need %d)", len, EHDR_SIZE);
    if (p[4] != ELFCLASS64)
        return vm_set_error(m, VM_EFORMAT, "ELF class %u is not ELFCLASS64", p[4]);
    if (p[5] != ELFDATA2LSB)
        return vm_set_error(m, VM_EFORMAT, "ELF data encoding %u is not little-endian", p[5]);
    uint16_t type = rd16(p + 16), mach = rd16(p + 18);
    if (type != ET_EXEC && type != ET_DYN)
        return vm_set_error(m, VM_EFORMAT, "ELF type %u is not ET_EXEC or ET_DYN", type);
    if (mach != expected_machine(m))
        return vm_set_error(m, VM_EFORMAT, "ELF machine %u does not match the %s machine (%u)",
                            mach, m->isa->name, expected_machine(m));
    return 0;
}

/* Reads and validates the PT_LOAD segments, sorted by address. */
static int read_segments(vm_machine *m, const uint8_t *p, size_t len, uint64_t bias,
                         elf_seg **out, size_t *nout, uint64_t *phdr_vaddr)
{
    uint64_t phoff = rd64(p + 32);
    uint16_t phentsize = rd16(p + 54), phnum = rd16(p + 56);
    *out = NULL; *nout = 0; *phdr_vaddr = 0;
    if (phnum == 0)
        return vm_set_error(m, VM_EFORMAT, "ELF has no program headers");
    if (phentsize != PHDR_SIZE)
        return vm_set_error(m, VM_EFORMAT, "ELF e_phentsize %u is not %d", phentsize, PHDR_SIZE);
    if (phnum > MAX_PHNUM)
        return vm_set_error(m, VM_EFORMAT, "ELF has too many program headers (%u)", phnum);
    if (phoff > len || (uint64_t)phnum * PHDR_SIZE > len - phoff)
        return vm_set_error(m, VM_EFORMAT, "ELF program headers (offset 0x%llx, %u entries) lie past the end of the file (%zu bytes)",
                            (unsigned long long)phoff, phnum, len);
    elf_seg *segs = calloc(phnum, sizeof *segs);
    if (!segs)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    size_t n = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = p + phoff + (uint64_t)i * PHDR_SIZE;
        uint32_t type = rd32(ph);
        if (type == PT_PHDR)
            *phdr_vaddr = rd64(ph + 16) + bias;
        if (type != PT_LOAD)
            continue;
        elf_seg s = { rd64(ph + 8), rd64(ph + 16), rd64(ph + 32), rd64(ph + 40), prot_of(rd32(ph + 4)) };
        const char *bad = NULL;
        if (s.filesz > s.memsz)
            bad = "p_filesz is larger than p_memsz";
        else if (s.offset > len || s.filesz > len - s.offset)
            bad = "file bytes (p_offset + p_filesz) lie past the end of the file";
        else if (s.memsz > MAX_SEGMENT)
            bad = "p_memsz is larger than 16 GiB";
        else if (s.vaddr > UINT64_MAX - bias || s.memsz > UINT64_MAX - (s.vaddr + bias) ||
                 s.vaddr + bias + s.memsz > UINT64_MAX - VM_PAGE_SIZE)
            bad = "address range wraps around the address space";
        if (bad) {
            free(segs);
            return vm_set_error(m, VM_EFORMAT, "ELF segment %u (vaddr 0x%llx): %s", i,
                                (unsigned long long)s.vaddr, bad);
        }
        s.vaddr += bias;
        if (s.memsz)
            segs[n++] = s;
    }
    if (n == 0) {
        free(segs);
        return vm_set_error(m, VM_EFORMAT, "ELF has no loadable segments");
    }
    *out = segs; *nout = n;
    return 0;
}

static int seg_cmp(const void *a, const void *b)
{
    const elf_seg *x = a, *y = b;
    return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Segments sorted by address must not share bytes (they may share a page). */
static int check_overlap(vm_machine *m, elf_seg *s, size_t n)
{
    qsort(s, n, sizeof *s, seg_cmp);
    for (size_t i = 1; i < n; i++)
        if (s[i].vaddr < s[i - 1].vaddr + s[i - 1].memsz)
            return vm_set_error(m, VM_EFORMAT, "ELF segments at 0x%llx and 0x%llx overlap",
                                (unsigned long long)s[i - 1].vaddr, (unsigned long long)s[i].vaddr);
    return 0;
}

/* Unmaps the pages of segments s[0..n). */
static void unmap_all(vm_machine *m, const elf_seg *s, size_t n)
{
    uint64_t done = 0;
    for (size_t j = 0; j < n; j++) {
        uint64_t start = s[j].vaddr & VM_PAGE_MASK;
        uint64_t end = (s[j].vaddr + s[j].memsz + VM_PAGE_SIZE - 1) & VM_PAGE_MASK;
        if (start < done)
            start = done;
        if (end > start)
            vm_mem_unmap(m, start, end - start);
        if (end > done)
            done = end;
    }
}

/* Maps page-aligned memory for every segment.  A page shared by two
 * neighbours gets the union of their permissions.  On failure everything
 * mapped here is unmapped again. */
static int map_segments(vm_machine *m, const elf_seg *s, size_t n)
{
    uint64_t prev_end = 0;
    int prev_prot = 0;
    size_t i;
    int rc = 0;
    for (i = 0; i < n; i++) {
        uint64_t start = s[i].vaddr & VM_PAGE_MASK;
        uint64_t end = (s[i].vaddr + s[i].memsz + VM_PAGE_SIZE - 1) & VM_PAGE_MASK;
        if (i > 0 && start < prev_end) {
            /* Only the last page of the previous segment can be shared. */
            rc = vm_mem_protect(m, prev_end - VM_PAGE_SIZE, VM_PAGE_SIZE, prev_prot | s[i].prot);
            if (rc)
                break;
            start = prev_end;
        }
        if (end > start && (rc = vm_mem_map(m, start, end - start, s[i].prot)) != 0)
            break;
        prev_end = end > start ? end : prev_end;
        prev_prot = s[i].prot;
    }
    if (rc == 0)
        return 0;
    char msg[VM_ERRLEN];
    snprintf(msg, sizeof msg, "%s", vm_machine_error(m));
    unmap_all(m, s, i);
    return vm_set_error(m, rc, "cannot map ELF segment at 0x%llx: %s",
                        (unsigned long long)s[i].vaddr, msg);
}

/* Guest address of the program headers when no PT_PHDR says it: the
 * segment whose file bytes contain them. */
static uint64_t phdr_from_segments(const elf_seg *s, size_t n, uint64_t phoff)
{
    for (size_t i = 0; i < n; i++)
        if (phoff >= s[i].offset && phoff - s[i].offset < s[i].filesz)
            return s[i].vaddr + (phoff - s[i].offset);
    return 0;
}

int vm_elf_load(vm_machine *m, const void *image, size_t len, uint64_t bias, vm_elf_info *info)
{
    const uint8_t *p = image;
    if (!m || (!image && len))
        return VM_EINVAL;
    int rc = check_header(m, p, len);
    if (rc)
        return rc;
    elf_seg *segs;
    size_t n;
    uint64_t phdr;
    if ((rc = read_segments(m, p, len, bias, &segs, &n, &phdr)) != 0)
        return rc;
    if ((rc = check_overlap(m, segs, n)) != 0 || (rc = map_segments(m, segs, n)) != 0) {
        free(segs);
        return rc;
    }
    /* Fresh mappings are zero, so bss needs no clearing; copy file bytes. */
    for (size_t i = 0; i < n; i++) {
        if (segs[i].filesz && (rc = vm_mem_write(m, segs[i].vaddr, p + segs[i].offset, segs[i].filesz)) != 0) {
            unmap_all(m, segs, n);
            free(segs);
            return vm_set_error(m, rc, "cannot write ELF segment at 0x%llx", (unsigned long long)segs[i].vaddr);
        }
    }
    if (info) {
        memset(info, 0, sizeof *info);
        info->entry = rd64(p + 24) + bias;
        info->phdr_addr = phdr ? phdr : phdr_from_segments(segs, n, rd64(p + 32));
        info->phnum = rd16(p + 56);
        info->phent = PHDR_SIZE;
        info->lo = segs[0].vaddr;
        info->hi = 0;
        for (size_t i = 0; i < n; i++)
            if (segs[i].vaddr + segs[i].memsz > info->hi)
                info->hi = segs[i].vaddr + segs[i].memsz;
        info->brk = (info->hi + VM_PAGE_SIZE - 1) & VM_PAGE_MASK;
    }
    free(segs);
    return 0;
}
