/* server.c — TCP listener and the recv -> feed loop for a gdb_session. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include "server.h"

int gdb_server_listen(const char *host, int port, int *bound_port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t salen = sizeof sa;
    int fd, one = 1;

    if (port < 0 || port > 65535 || inet_pton(AF_INET, host ? host : "127.0.0.1", &sa.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (bound_port)
        *bound_port = ntohs(sa.sin_port);
    return fd;
}

int gdb_server_accept(int listen_fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
    int fd, one = 1, rc;

    do {
        rc = poll(&pfd, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        return -1;
    fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    /* The protocol is a ping-pong of small packets: Nagle only adds delay. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void *gdb_server_fd_ctx(int fd)
{
    return (void *)(intptr_t)fd;
}

int gdb_server_write(void *ctx, const void *data, size_t len)
{
    int fd = (int)(intptr_t)ctx;
    const char *p = data;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);   /* no SIGPIPE */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

gdb_session_state gdb_server_serve(int fd, gdb_session *s, atomic_int *quit)
{
    char buf[4096];
    gdb_session_state st;

    while ((st = gdb_session_state_get(s)) < GDB_SESSION_DETACHED) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int rc;
        ssize_t n;

        if (quit && atomic_load(quit))
            break;
        rc = poll(&pfd, 1, 100);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0)
            continue;
        n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;                       /* hang-up or error */
        gdb_session_feed(s, buf, (size_t)n);
    }
    gdb_session_disconnect(s);
    return gdb_session_state_get(s);
}
