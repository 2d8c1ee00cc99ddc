/* File I/O in the directory given as argv[1]: create, write, read, seek,
 * stat, rename, mkdir, readdir, unlink, rmdir, getcwd/chdir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) { printf("FAIL %s line %d errno %d\n", #x, __LINE__, errno); return 1; } } while (0)

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    CHECK(chdir(argv[1]) == 0);
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    printf("cwd matches: %d\n", strcmp(cwd, argv[1]) == 0);

    int fd = open("data.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 3);
    char buf[10000];
    for (int i = 0; i < (int)sizeof buf; i++) buf[i] = (char)(i * 7);
    CHECK(write(fd, buf, sizeof buf) == sizeof buf);
    CHECK(lseek(fd, 100, SEEK_SET) == 100);
    char rd[50];
    CHECK(read(fd, rd, 50) == 50);
    CHECK(memcmp(rd, buf + 100, 50) == 0);
    CHECK(pread(fd, rd, 10, 9995) == 5);
    CHECK(lseek(fd, 0, SEEK_END) == 10000);
    struct iovec iov[2] = { { "abc", 3 }, { "defg", 4 } };
    CHECK(writev(fd, iov, 2) == 7);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("size=%lld reg=%d mode=%o\n", (long long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);
    CHECK(close(fd) == 0);
    CHECK(close(fd) == -1 && errno == EBADF);

    FILE *f = fopen("text.txt", "w");
    CHECK(f);
    for (int i = 0; i < 100; i++) fprintf(f, "line %d\n", i);
    fclose(f);
    f = fopen("text.txt", "r");
    char line[64];
    int lines = 0;
    while (fgets(line, sizeof line, f)) lines++;
    fclose(f);
    printf("lines=%d\n", lines);

    CHECK(mkdir("sub", 0755) == 0);
    CHECK(mkdir("sub", 0755) == -1 && errno == EEXIST);
    CHECK(rename("text.txt", "sub/moved.txt") == 0);
    CHECK(stat("sub/moved.txt", &st) == 0 && st.st_size > 0);
    CHECK(stat("nope", &st) == -1 && errno == ENOENT);
    CHECK(access("data.bin", R_OK | W_OK) == 0);
    CHECK(symlink("data.bin", "link") == 0);
    char target[100];
    ssize_t n = readlink("link", target, sizeof target);
    CHECK(n == 8 && memcmp(target, "data.bin", 8) == 0);

    DIR *d = opendir(".");
    CHECK(d);
    char *names[16];
    int cnt = 0;
    struct dirent *e;
    while ((e = readdir(d)) && cnt < 16)
        if (e->d_name[0] != '.') names[cnt++] = strdup(e->d_name);
    closedir(d);
    qsort(names, cnt, sizeof *names, cmp);
    for (int i = 0; i < cnt; i++) printf("entry %s\n", names[i]);

    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "pipe!", 5) == 5);
    struct pollfd pf[3] = { { p[0], POLLIN, 0 }, { p[1], POLLOUT, 0 }, { 999, POLLIN, 0 } };
    CHECK(poll(pf, 3, 1000) == 3);
    printf("poll: %d %d %d\n", pf[0].revents, pf[1].revents, pf[2].revents);
    CHECK(read(p[0], rd, 5) == 5 && memcmp(rd, "pipe!", 5) == 0);
    pf[0].revents = 0;
    CHECK(poll(pf, 1, 10) == 0 && pf[0].revents == 0);
    int d2 = dup(p[1]);
    CHECK(d2 > p[1]);
    CHECK(dup2(p[0], 100) == 100);
    close(p[0]); close(p[1]); close(d2); close(100);

    CHECK(unlink("link") == 0);
    CHECK(unlink("sub/moved.txt") == 0);
    CHECK(rmdir("sub") == 0);
    CHECK(unlink("data.bin") == 0);
    CHECK(chdir("..") == 0);
    printf("ok\n");
    return 0;
}
