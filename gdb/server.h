/* server.h — a small TCP front end for a gdb_session.
 *
 * Typical use (on the protocol thread):
 *     int port, lfd = gdb_server_listen(NULL, 1234, &port);
 *     int fd = gdb_server_accept(lfd, -1);
 *     gdb_session *s = gdb_session_new(&ops, target, gdb_server_write,
 *                                      gdb_server_fd_ctx(fd));
 *     gdb_server_serve(fd, s, &quit);      // returns when gdb is done
 *     gdb_session_free(s); close(fd); close(lfd);
 * The machine thread meanwhile calls gdb_session_report_stop(s, ...).
 */
#ifndef GDB_SERVER_H
#define GDB_SERVER_H

#include <stdatomic.h>
#include "rsp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Listens on host:port (host NULL = "127.0.0.1", a numeric IPv4 address;
 * port 0 = any free port).  Stores the bound port in *bound_port if not
 * NULL.  Returns the listening fd, or -1 (errno set). */
int gdb_server_listen(const char *host, int port, int *bound_port);

/* Waits up to timeout_ms (-1 = forever) for one client; returns its fd
 * (TCP_NODELAY set) or -1 on timeout/error. */
int gdb_server_accept(int listen_fd, int timeout_ms);

/* The write callback for gdb_session_new; ctx comes from gdb_server_fd_ctx. */
int gdb_server_write(void *ctx, const void *data, size_t len);
void *gdb_server_fd_ctx(int fd);

/* recv -> gdb_session_feed until the session is detached, killed or
 * closed, the peer hangs up, or *quit (may be NULL) becomes nonzero —
 * checked every 100 ms.  On hang-up or quit, calls
 * gdb_session_disconnect.  Does not close fd.  Returns the final state. */
gdb_session_state gdb_server_serve(int fd, gdb_session *s, atomic_int *quit);

#ifdef __cplusplus
}
#endif
#endif
