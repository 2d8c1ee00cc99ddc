/* mmap family and bad guest pointers.  Prints only facts that do not depend
 * on where the kernel (or emulator) placed things. argv[1]: a scratch file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BAD ((void *)16)

int main(int argc, char **argv)
{
    long pg = sysconf(_SC_PAGESIZE);
    /* anonymous memory is zero and writable */
    unsigned char *a = mmap(NULL, 5 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("anon ok=%d aligned=%d zero=%d\n", a != MAP_FAILED, ((uintptr_t)a % pg) == 0, a[3 * pg + 7] == 0);
    memset(a, 0x5a, 5 * pg);
    /* grow by moving; contents follow */
    unsigned char *b = mremap(a, 5 * pg, 400 * pg, MREMAP_MAYMOVE);
    printf("mremap ok=%d kept=%d newzero=%d\n", b != MAP_FAILED, b[5 * pg - 1] == 0x5a && b[0] == 0x5a, b[399 * pg] == 0);
    /* shrink in place */
    unsigned char *c = mremap(b, 400 * pg, 2 * pg, 0);
    printf("shrink same=%d\n", c == b);
    printf("mprotect=%d\n", mprotect(c, 2 * pg, PROT_READ));
    printf("munmap=%d munmap again=%d\n", munmap(c, 2 * pg), munmap(c, 2 * pg));
    printf("mprotect unmapped=%d errno=%d\n", mprotect(c, pg, PROT_READ), errno);
    printf("mmap len 0=%d errno=%d\n", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED, errno);
    /* MAP_FIXED replaces part of a mapping */
    unsigned char *d = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(d, 1, 4 * pg);
    unsigned char *e = mmap(d + pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("fixed at=%d old=%d new=%d next=%d\n", e == d + pg, d[0], d[pg], d[2 * pg]);
    if (argc > 2 && strcmp(argv[2], "noreplace") == 0) {
        /* qemu-user does not implement this flag; Linux fails with EEXIST. */
        void *f = mmap(d, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        printf("noreplace failed=%d errno=%d\n", f == MAP_FAILED, errno);
    }
    /* file-backed private mapping */
    int fd = open(argv[1], O_CREAT | O_RDWR | O_TRUNC, 0600);
    char text[3000];
    for (int i = 0; i < (int)sizeof text; i++) text[i] = 'a' + i % 26;
    write(fd, text, sizeof text);
    char *m = mmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("file map=%d same=%d tailzero=%d\n", m != MAP_FAILED, memcmp(m, text, sizeof text) == 0, m[sizeof text + 10] == 0);
    close(fd);
    unlink(argv[1]);
    /* brk grows and shrinks */
    char *cur = sbrk(0);
    printf("sbrk grow=%d\n", sbrk(3 * pg) == cur);
    cur[3 * pg - 1] = 9;
    printf("sbrk shrink=%d\n", sbrk(-pg) == cur + 3 * pg);
    /* bad pointers: the kernel answers EFAULT, nothing crashes */
    errno = 0;
    printf("write bad=%ld errno=%d\n", (long)syscall(SYS_write, 1, BAD, 4), errno);
    errno = 0;
    printf("read bad=%ld errno=%d\n", (long)syscall(SYS_read, 0, BAD, 4), errno);
    errno = 0;
    printf("open bad=%ld errno=%d\n", (long)syscall(SYS_openat, AT_FDCWD, BAD, O_RDONLY), errno);
    errno = 0;
    printf("uname bad=%ld errno=%d\n", (long)syscall(SYS_uname, BAD), errno);
    errno = 0;
    printf("clock bad=%ld errno=%d\n", (long)syscall(SYS_clock_gettime, 0, BAD), errno);
    errno = 0;
    printf("unknown=%ld errno=%d\n", (long)syscall(4000), errno);
    return 0;
}
