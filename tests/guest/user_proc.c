/* Processes: fork, pipes between parent and child, wait status of exits
 * and signals, execve and posix_spawn of this same program, kill. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void report(const char *what, int st)
{
    if (WIFEXITED(st))
        printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: signal %d\n", what, WTERMSIG(st));
    else
        printf("%s: other %#x\n", what, st);
}

static pid_t fork_flushed(void)
{
    fflush(stdout);
    return fork();
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
        const char *env = getenv("PROCTEST");
        printf("exec child: argc=%d arg=%s env=%s\n", argc, argc > 2 ? argv[2] : "-", env ? env : "-");
        return 7;
    }
    int p[2], st;
    char buf[64] = { 0 };
    if (pipe(p) != 0) return 1;
    pid_t pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        write(p[1], "from child", 10);
        _exit(3);
    }
    close(p[1]);
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    printf("fork: read %zd [%s] pid>0=%d\n", n, buf, pid > 0);
    printf("waitpid same=%d\n", waitpid(pid, &st, 0) == pid);
    report("fork", st);

    if ((pid = fork_flushed()) == 0)
        abort();
    waitpid(pid, &st, 0);
    report("abort", st);

    if ((pid = fork_flushed()) == 0) {
        struct timespec t = { 30, 0 };
        nanosleep(&t, NULL);
        _exit(0);
    }
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    report("kill", st);

    if ((pid = fork_flushed()) == 0) {
        char *av[] = { "self", "exec-child", "hello", NULL };
        char *ev[] = { "PROCTEST=yes", NULL };
        execve("/proc/self/exe", av, ev);
        printf("execve failed: %d\n", errno);
        _exit(99);
    }
    waitpid(pid, &st, 0);
    report("execve", st);

    char *av[] = { "spawned", "exec-child", "spawn", NULL };
    fflush(stdout);
    int rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, av, (char *[]){ NULL });
    printf("posix_spawn rc=%d\n", rc);
    waitpid(pid, &st, 0);
    report("spawn", st);

    errno = 0;
    printf("no children: %d errno=%d\n", (int)waitpid(-1, &st, 0), errno);
    return 0;
}
