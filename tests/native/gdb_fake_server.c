/* gdb_fake_server.c — the gdb protocol engine behind a real TCP socket,
 * with the fake riscv64 target running on its own thread (the way the
 * emulator will: resume wakes the run thread, which reports the stop).
 * Lets a real gdb-multiarch talk to the library.
 *
 * Usage: gdb_fake_server [PORT]   (0 or none: any free port)
 * Prints "port N" on stdout once listening, serves one client, then prints
 * "end STATE" and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "gdb_fake_target.h"
#include "server.h"

int main(int argc, char **argv)
{
    static fake_target t;
    static const char *names[] = { "stopped", "running", "detached", "killed", "closed" };
    int port = 0, lfd, fd;
    gdb_session *s;
    gdb_session_state st;

    lfd = gdb_server_listen(NULL, argc > 1 ? atoi(argv[1]) : 0, &port);
    if (lfd < 0) {
        perror("listen");
        return 1;
    }
    printf("port %d\n", port);
    fflush(stdout);
    fd = gdb_server_accept(lfd, 30000);
    if (fd < 0) {
        fprintf(stderr, "no client\n");
        return 1;
    }
    fake_init(&t, true);
    s = gdb_session_new(&fake_ops, &t, gdb_server_write, gdb_server_fd_ctx(fd));
    t.session = s;
    st = gdb_server_serve(fd, s, NULL);
    fake_fini(&t);        /* joins the run thread before the session goes */
    gdb_session_free(s);
    close(fd);
    close(lfd);
    printf("end %s\n", names[st]);
    return 0;
}
