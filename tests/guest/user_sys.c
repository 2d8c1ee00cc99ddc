/* uname, getrandom, time, ids, limits: print what qemu-user would too. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    struct utsname u;
    if (uname(&u) != 0) return 1;
    printf("sysname=%s machine=%s\n", u.sysname, u.machine);
    unsigned char buf[300];
    memset(buf, 0, sizeof buf);
    ssize_t n = getrandom(buf, sizeof buf, 0);
    int nz = 0;
    for (int i = 0; i < (int)sizeof buf; i++) nz += buf[i] != 0;
    printf("getrandom=%zd nonzero>200=%d\n", n, nz > 200);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec d = { 0, 20 * 1000 * 1000 };
    nanosleep(&d, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    printf("slept>=20ms=%d\n", ms >= 20);
    time_t t = time(NULL);
    printf("time sane=%d\n", t > 1600000000);
    printf("pid>0=%d uid=%d\n", getpid() > 0, getuid() == geteuid());
    struct rlimit rl;
    printf("getrlimit=%d\n", getrlimit(RLIMIT_STACK, &rl));
    char cwd[4096];
    printf("getcwd ok=%d\n", getcwd(cwd, sizeof cwd) != NULL);
    printf("bad fd write=%zd errno=%d\n", write(99, "x", 1), errno);
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = 0;
    printf("exe=%s\n", exe);
    long pg = sysconf(_SC_PAGESIZE);
    printf("pagesize=%ld\n", pg);
    return 0;
}
