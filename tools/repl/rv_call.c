/* rv_call.c — the one ISA question `next` needs answered: is the
 * instruction at addr a call?  (RISC-V: a jal/jalr that links into ra or
 * t0, or c.jalr.)  Returns the instruction's length, or 0. */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"

#include <string.h>

static int rv_is_call(vr_repl *r, uint64_t addr)
{
    uint8_t b[4];
    if (vm_mem_read(r->m, addr, b, 2))
        return 0;
    uint32_t insn = (uint32_t)b[0] | (uint32_t)b[1] << 8;
    if ((insn & 3) != 3) {
        /* c.jalr: funct4 1001, rs1 != 0, rs2 == 0, quadrant 2 */
        int call = (insn & 3) == 2 && (insn >> 12) == 0x9 && ((insn >> 7) & 31) && !((insn >> 2) & 31);
        return call ? 2 : 0;
    }
    if (vm_mem_read(r->m, addr + 2, b + 2, 2))
        return 0;
    insn |= (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    unsigned opcode = insn & 0x7f, rd = (insn >> 7) & 31;
    if ((opcode == 0x6f || opcode == 0x67) && (rd == 1 || rd == 5))
        return 4;
    return 0;
}

int vr_is_call(vr_repl *r, uint64_t addr)
{
    if (!strcmp(vm_machine_isa(r->m), "riscv64"))
        return rv_is_call(r, addr);
    return 0;
}
#endif /* VMPY_HAVE_TCL */
