/* start.S — entry, trap vectors and mode switching for the bare-metal
 * tests.  Hart 0 runs main(); other harts sleep. */
    .section .text.start
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    la sp, stack_top
    la t0, mtrap_entry
    csrw mtvec, t0
    call main
park:
    wfi
    j park

/* Both trap entries save all registers in a frame on the current stack and
 * call the C handler with it; the handler may change frame->epc. */
.macro SAVE
    addi sp, sp, -256
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd x\r, (\r*8)(sp)
    .endr
.endm
.macro RESTORE
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld x\r, (\r*8)(sp)
    .endr
    addi sp, sp, 256
.endm

.macro MENTRY name, handler
    .balign 4
    .globl \name
\name:
    csrrw sp, mscratch, sp      /* M traps run on their own stack */
    SAVE
    csrr t0, mscratch
    sd t0, 16(sp)               /* the interrupted sp */
    mv a0, sp
    call \handler
    ld t0, 16(sp)
    csrw mscratch, t0
    RESTORE
    csrrw sp, mscratch, sp
    mret
.endm
    MENTRY mtrap_entry, trap_m
    MENTRY mtrap_entry_vec7, trap_m_vec7

    .balign 4
    .globl strap_entry
strap_entry:
    SAVE
    mv a0, sp
    call trap_s
    RESTORE
    sret

/* Vectored mtvec table: slot 7 (machine timer) has its own entry. */
    .balign 256
    .globl mvec_table
mvec_table:
    .rept 7
    j mtrap_entry
    .endr
    j mtrap_entry_vec7
    .rept 8
    j mtrap_entry
    .endr

/* long run_lower(int mpp, void (*fn)(void)): runs fn in U (0) or S (1)
 * mode on the lower stack; fn returns to M with `ecall` and a7 = 93.  The
 * M handler then calls back_to_m(), which returns from run_lower. */
    .globl run_lower
run_lower:
    la t0, saved_ctx
    sd ra, 0(t0)
    sd sp, 8(t0)
    sd s0, 16(t0)
    sd s1, 24(t0)
    sd s2, 32(t0)
    sd s3, 40(t0)
    sd s4, 48(t0)
    sd s5, 56(t0)
    sd s6, 64(t0)
    sd s7, 72(t0)
    sd s8, 80(t0)
    sd s9, 88(t0)
    sd s10, 96(t0)
    sd s11, 104(t0)
    li t1, 3 << 11
    csrc mstatus, t1
    slli a0, a0, 11
    csrs mstatus, a0
    csrw mepc, a1
    la sp, lower_stack_top
    mret

    .globl back_to_m
back_to_m:
    la t0, saved_ctx
    ld ra, 0(t0)
    ld sp, 8(t0)
    ld s0, 16(t0)
    ld s1, 24(t0)
    ld s2, 32(t0)
    ld s3, 40(t0)
    ld s4, 48(t0)
    ld s5, 56(t0)
    ld s6, 64(t0)
    ld s7, 72(t0)
    ld s8, 80(t0)
    ld s9, 88(t0)
    ld s10, 96(t0)
    ld s11, 104(t0)
    /* reset the M trap stack for the next trap */
    la t0, mstack_top
    csrw mscratch, t0
    li a0, 0
    ret

    .bss
    .balign 16
saved_ctx: .space 128
    .space 8192
stack_top:
    .space 8192
    .globl mstack_top
mstack_top:
    .space 8192
lower_stack_top:
