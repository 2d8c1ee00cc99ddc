"""Minimal Linux user-mode runner for static riscv64 ELF programs on Unicorn.

This is the *peer* used by the benchmark harness: Unicorn has no Linux
personality, so we load the ELF ourselves, build the initial stack the kernel
would build (argc/argv/envp/auxv), and answer the handful of system calls a
static glibc program makes from a UC_HOOK_INTR callback.  No per-instruction
or per-block hooks are installed, so Unicorn runs at its full speed.

Usage as a script:  python bench/uc_linux.py PROGRAM [ARGS...]
(prints the guest's stdout, exits with the guest's exit status; with
UC_LINUX_TIME=1 it reports the emulation time on stderr).
"""
import os
import struct
import sys
import time

from unicorn import Uc, UcError, UC_ARCH_RISCV, UC_MODE_RISCV64, UC_HOOK_INTR
from unicorn import UC_HOOK_CODE, UC_PROT_ALL
from unicorn import riscv_const as R

PAGE = 0x1000
STACK_TOP = 0x3FFFF00000          # below the Sv39 user limit, like a real kernel
STACK_SIZE = 8 << 20
MMAP_BASE = 0x2000000000
ENOSYS, ENOTTY, EBADF, EINVAL, ENOMEM = 38, 25, 9, 22, 12

# asm-generic syscall numbers used by riscv64
SYS = dict(ioctl=29, readlinkat=78, newfstatat=79, fstat=80, write=64,
           writev=66, exit=93, exit_group=94, set_tid_address=96, futex=98,
           set_robust_list=99, clock_gettime=113, tgkill=131,
           rt_sigaction=134, rt_sigprocmask=135, uname=160, getpid=172,
           gettid=178, brk=214, munmap=215, mmap=222, mprotect=226,
           madvise=233, riscv_hwprobe=258, prlimit64=261, getrandom=278,
           rseq=293, read=63, close=57)

AT = dict(NULL=0, PHDR=3, PHENT=4, PHNUM=5, PAGESZ=6, BASE=7, FLAGS=8,
          ENTRY=9, UID=11, EUID=12, GID=13, EGID=14, HWCAP=16, CLKTCK=17,
          SECURE=23, RANDOM=25, EXECFN=31)


def page_down(x):
    return x & ~(PAGE - 1)


def page_up(x):
    return (x + PAGE - 1) & ~(PAGE - 1)


class GuestExit(Exception):
    pass


class ElfImage:
    """The parts of a static ELF64 executable the loader needs."""

    def __init__(self, data):
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise ValueError("not a little-endian ELF64 file")
        (e_type, e_machine, _, self.entry, self.phoff, _, _, _, self.phentsize,
         self.phnum) = struct.unpack_from("<HHIQQQIHHH", data, 16)
        if e_machine != 243:
            raise ValueError("not a RISC-V ELF file")
        if e_type != 2:
            raise ValueError("only static ET_EXEC programs are supported")
        self.data = data
        self.loads = []
        for i in range(self.phnum):
            off = self.phoff + i * self.phentsize
            p_type, _, p_off, p_vaddr, _, p_filesz, p_memsz, _ = \
                struct.unpack_from("<IIQQQQQQ", data, off)
            if p_type == 1:
                self.loads.append((p_vaddr, p_off, p_filesz, p_memsz))
        # AT_PHDR: where the program headers sit in guest memory
        self.phdr_addr = next((v - o + self.phoff for v, o, fs, _ in self.loads
                               if o <= self.phoff < o + fs), 0)


class LinuxUC:
    """One Unicorn instance running one static Linux program."""

    def __init__(self, path, argv=None, env=None):
        with open(path, "rb") as f:
            self.elf = ElfImage(f.read())
        self.path = path
        self.argv = list(argv) if argv else [path]
        self.env = list(env) if env is not None else ["PATH=/usr/bin", "LANG=C"]
        self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
        self.stdout = bytearray()
        self.echo = False
        self.exit_code = None
        self.mapped = []               # [(begin, end)] page-aligned
        self._load()
        self._build_stack()
        self.uc.hook_add(UC_HOOK_INTR, self._on_intr)

    # --- memory ---------------------------------------------------------
    def _map(self, begin, end):
        """Map [begin, end) except what is mapped already."""
        begin, end = page_down(begin), page_up(end)
        holes = [(begin, end)]
        for mb, me in self.mapped:
            nxt = []
            for hb, he in holes:
                if me <= hb or mb >= he:
                    nxt.append((hb, he))
                    continue
                if hb < mb:
                    nxt.append((hb, mb))
                if me < he:
                    nxt.append((me, he))
            holes = nxt
        for hb, he in holes:
            self.uc.mem_map(hb, he - hb, UC_PROT_ALL)
            self.mapped.append((hb, he))

    def _load(self):
        top = 0
        for vaddr, off, filesz, memsz in self.elf.loads:
            self._map(vaddr, vaddr + memsz)
            self.uc.mem_write(vaddr, self.elf.data[off:off + filesz])
            top = max(top, vaddr + memsz)
        self.brk_base = self.brk = page_up(top)
        self.brk_mapped = self.brk_base
        self.mmap_next = MMAP_BASE

    def _build_stack(self):
        uc = self.uc
        self._map(STACK_TOP - STACK_SIZE, STACK_TOP)
        sp = STACK_TOP

        def push_bytes(b):
            nonlocal sp
            sp -= len(b)
            uc.mem_write(sp, b)
            return sp

        execfn = push_bytes(self.path.encode() + b"\0")
        argv_p = [push_bytes(a.encode() + b"\0") for a in self.argv]
        env_p = [push_bytes(e.encode() + b"\0") for e in self.env]
        rnd = push_bytes(bytes(range(0x40, 0x50)))   # AT_RANDOM: fixed, reproducible
        e = self.elf
        auxv = [(AT["PHDR"], e.phdr_addr), (AT["PHENT"], e.phentsize),
                (AT["PHNUM"], e.phnum), (AT["PAGESZ"], PAGE), (AT["BASE"], 0),
                (AT["FLAGS"], 0), (AT["ENTRY"], e.entry), (AT["UID"], 0),
                (AT["EUID"], 0), (AT["GID"], 0), (AT["EGID"], 0),
                (AT["HWCAP"], 0x112d),  # I M A F D C
                (AT["CLKTCK"], 100), (AT["SECURE"], 0), (AT["RANDOM"], rnd),
                (AT["EXECFN"], execfn), (AT["NULL"], 0)]
        words = [len(self.argv)] + argv_p + [0] + env_p + [0]
        for k, v in auxv:
            words += [k, v]
        sp = (sp - 8 * len(words)) & ~0xF
        uc.mem_write(sp, struct.pack("<%dQ" % len(words), *words))
        uc.reg_write(R.UC_RISCV_REG_SP, sp)
        # Unicorn starts the hart in M-mode; make sure the FPU is usable.
        try:
            ms = uc.reg_read(R.UC_RISCV_REG_MSTATUS)
            uc.reg_write(R.UC_RISCV_REG_MSTATUS, ms | (3 << 13))
        except UcError:
            pass

    # --- system calls ---------------------------------------------------
    def _on_intr(self, uc, intno, _user):
        if intno not in (8, 9, 11):            # ecall from U/S/M mode
            uc.emu_stop()
            raise GuestExit("unexpected exception %d at pc=%#x" %
                            (intno, uc.reg_read(R.UC_RISCV_REG_PC)))
        a = [uc.reg_read(R.UC_RISCV_REG_A0 + i) for i in range(6)]
        nr = uc.reg_read(R.UC_RISCV_REG_A7)
        try:
            ret = self._syscall(nr, a)
        except (UcError, struct.error, OverflowError, MemoryError) as e:
            # a bad guest pointer or size: fail the call like a kernel would
            ret = -14 if isinstance(e, UcError) else -EINVAL     # EFAULT
        if self.exit_code is not None:
            uc.emu_stop()
            return
        # Unicorn reports the ecall with pc already past it: no pc fix-up.
        uc.reg_write(R.UC_RISCV_REG_A0, ret & 0xFFFFFFFFFFFFFFFF)

    def _syscall(self, nr, a):
        uc = self.uc
        if nr == SYS["write"]:
            if a[0] not in (1, 2):
                return -EBADF
            data = bytes(uc.mem_read(a[1], a[2]))
            self._out(a[0], data)
            return len(data)
        if nr == SYS["writev"]:
            total = 0
            for i in range(a[2]):
                base, ln = struct.unpack("<QQ", uc.mem_read(a[1] + 16 * i, 16))
                self._out(a[0], bytes(uc.mem_read(base, ln)))
                total += ln
            return total
        if nr in (SYS["exit"], SYS["exit_group"]):
            self.exit_code = a[0] & 0xFF
            return 0
        if nr == SYS["brk"]:
            return self._brk(a[0])
        if nr == SYS["mmap"]:
            return self._mmap(a[1], a[3], a[4])
        if nr in (SYS["munmap"], SYS["mprotect"], SYS["madvise"],
                  SYS["rt_sigprocmask"], SYS["rt_sigaction"],
                  SYS["set_robust_list"]):
            return 0
        if nr == SYS["set_tid_address"] or nr in (SYS["gettid"], SYS["getpid"]):
            return 1000
        if nr == SYS["prlimit64"]:
            if a[3]:
                uc.mem_write(a[3], struct.pack("<QQ", STACK_SIZE, 2**64 - 1))
            return 0
        if nr == SYS["getrandom"]:
            uc.mem_write(a[0], bytes((i * 37 + 11) & 0xFF for i in range(a[1])))
            return a[1]
        if nr == SYS["uname"]:
            fields = [b"Linux", b"vmpy-bench", b"6.1.0", b"#1", b"riscv64", b""]
            uc.mem_write(a[0], b"".join(f.ljust(65, b"\0") for f in fields))
            return 0
        if nr == SYS["readlinkat"]:
            target = os.path.abspath(self.path).encode()[:a[3]]
            uc.mem_write(a[2], target)
            return len(target)
        if nr in (SYS["newfstatat"], SYS["fstat"]):
            st = a[2] if nr == SYS["newfstatat"] else a[1]
            buf = bytearray(128)
            struct.pack_into("<I", buf, 16, 0o020620)      # st_mode: char device
            struct.pack_into("<i", buf, 56, 1024)          # st_blksize
            uc.mem_write(st, bytes(buf))
            return 0
        if nr == SYS["ioctl"]:
            return -ENOTTY
        if nr == SYS["clock_gettime"]:
            t = time.clock_gettime(a[0] if a[0] in (0, 1) else 1)
            uc.mem_write(a[1], struct.pack("<qq", int(t), int(t % 1 * 1e9)))
            return 0
        return -ENOSYS          # includes riscv_hwprobe, rseq, futex...

    def _out(self, fd, data):
        self.stdout += data if fd == 1 else b""
        if self.echo:
            (sys.stdout if fd == 1 else sys.stderr).buffer.write(data)

    def _brk(self, want):
        if want < self.brk_base:
            return self.brk
        if want > self.brk_mapped:
            self._map(self.brk_mapped, want)
            self.brk_mapped = page_up(want)
        self.brk = want
        return self.brk

    def _mmap(self, length, flags, fd):
        if not flags & 0x20 or length == 0:     # only MAP_ANONYMOUS
            return -ENOSYS if not flags & 0x20 else -EINVAL
        addr = self.mmap_next
        size = page_up(length)
        self._map(addr, addr + size)
        self.mmap_next = addr + size + PAGE   # guard gap
        return addr

    # --- running --------------------------------------------------------
    def run(self, count=0):
        """Run to exit (or `count` instructions); returns emulation seconds."""
        t0 = time.perf_counter()
        pc = self.elf.entry
        while self.exit_code is None:
            try:
                self.uc.emu_start(pc, 0, count=count)
            except UcError as e:
                raise GuestExit("unicorn: %s at pc=%#x" %
                                (e, self.uc.reg_read(R.UC_RISCV_REG_PC)))
            if count:
                break
            pc = self.uc.reg_read(R.UC_RISCV_REG_PC)
        return time.perf_counter() - t0

    def count_hook(self, count):
        """Hook benchmark: run `count` instructions with a UC_HOOK_CODE Python
        callback that only counts; returns (calls, seconds)."""
        calls = [0]

        def cb(uc, addr, size, user):
            calls[0] += 1
        self.uc.hook_add(UC_HOOK_CODE, cb)
        secs = self.run(count=count)
        return calls[0], secs


def main(argv):
    if len(argv) < 2:
        print("usage: uc_linux.py PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    try:
        m = LinuxUC(argv[1], argv[1:])
        m.echo = True
        secs = m.run()
    except (OSError, ValueError, struct.error, UcError, GuestExit) as e:
        print("uc_linux: %s" % e, file=sys.stderr)
        return 125
    sys.stdout.flush()
    if os.environ.get("UC_LINUX_TIME"):
        print("uc_linux: emulation %.3f s" % secs, file=sys.stderr)
    return m.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
