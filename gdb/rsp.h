/* rsp.h — the GDB remote serial protocol engine.
 *
 * A standalone C11 library: it knows nothing of vmpy's structs and talks to
 * the thing being debugged only through the gdb_target_ops table below.  A
 * gdb_session is fed the bytes that arrive from gdb (gdb_session_feed) and
 * emits its replies through a write callback, so it can be driven by a
 * socket (gdb/server.h), a pipe or a unit test alike.
 *
 * Threading contract
 * ------------------
 * - gdb_session_feed() runs on the "protocol thread" (whoever reads from
 *   gdb).  Every gdb_target_ops callback is invoked from inside feed (or
 *   gdb_session_disconnect: interrupt only), on that thread, with the
 *   session lock held.  gdb_session_report_stop() never calls the target,
 *   so the machine thread may call it while the target is half-way out of
 *   its run loop.
 * - resume() must not block until the target stops.  It starts the target
 *   (typically by waking the thread that owns the machine's run loop) and
 *   returns.  When the target stops, whoever notices calls
 *   gdb_session_report_stop(); the stub then sends the stop reply.  A target
 *   that runs synchronously may also call gdb_session_report_stop() from
 *   inside resume() itself: the session lock is recursive.
 * - gdb_session_report_stop(), gdb_session_state() and
 *   gdb_session_disconnect() are safe to call from any thread.
 * - While the target runs, a bare 0x03 byte from gdb (Ctrl-C) makes feed call
 *   ops->interrupt(); the target must then stop soon and report it, normally
 *   with signal GDB_SIGNAL_INT.  interrupt() must not wait for the stop.
 * - No callback may wait for another thread that might itself be blocked in
 *   gdb_session_report_stop() (that thread waits for the session lock).
 * - While the target runs (all-stop mode), gdb sends nothing but Ctrl-C;
 *   any other packet arriving then is acknowledged and dropped.
 *
 * Protocol coverage: framing, checksums, acks / QStartNoAckMode, binary
 * escapes, qSupported, qXfer (features, exec-file, auxv), g G p P m M X,
 * Z0-Z4 z0-z4, c C s S, vCont? vCont, ?, H, T, qC, qfThreadInfo,
 * qsThreadInfo, qThreadExtraInfo, qAttached, qOffsets, qSymbol, qRcmd,
 * D, k, vKill.  Unknown packets get the empty reply ("unsupported").
 */
#ifndef GDB_RSP_H
#define GDB_RSP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest packet payload accepted from gdb and advertised as PacketSize. */
#define GDB_PACKET_MAX 16384
/* Largest single register (bytes): room for a 512-bit vector register. */
#define GDB_REG_MAX 64

/* Return codes of the ops callbacks (0 = success). */
enum {
    GDB_OK = 0,
    GDB_ERR = -1,        /* generic failure: the stub replies "E01" */
    GDB_ENOTSUP = -2,    /* not supported: the stub replies "" */
    GDB_ENOREG = -3,     /* read_reg/write_reg: no such register */
    GDB_EFAULT = -4,     /* read_mem/write_mem: inaccessible address */
    GDB_EUNAVAIL = -5,   /* read_reg: register exists (len set) but its
                            value is unavailable: sent as "xx" bytes */
};

/* Signal numbers as gdb numbers them (its own numbering, not the host's). */
enum {
    GDB_SIGNAL_0 = 0,
    GDB_SIGNAL_INT = 2,
    GDB_SIGNAL_ILL = 4,
    GDB_SIGNAL_TRAP = 5,
    GDB_SIGNAL_ABRT = 6,
    GDB_SIGNAL_EMT = 7,
    GDB_SIGNAL_FPE = 8,
    GDB_SIGNAL_KILL = 9,
    GDB_SIGNAL_BUS = 10,
    GDB_SIGNAL_SEGV = 11,
    GDB_SIGNAL_SYS = 12,
    GDB_SIGNAL_ALRM = 14,
};

/* Breakpoint/watchpoint types, as in the Z/z packets. */
enum {
    GDB_BP_SW = 0,
    GDB_BP_HW = 1,
    GDB_WP_WRITE = 2,
    GDB_WP_READ = 3,
    GDB_WP_ACCESS = 4,
};

/* Why the target stopped. */
typedef enum gdb_stop_kind {
    GDB_STOP_SIGNAL = 0,  /* plain signal (Ctrl-C, fault, step done) */
    GDB_STOP_SWBREAK,     /* software breakpoint (Z0) at the pc */
    GDB_STOP_HWBREAK,     /* hardware breakpoint (Z1) at the pc */
    GDB_STOP_WATCH,       /* write watchpoint hit at addr */
    GDB_STOP_RWATCH,      /* read watchpoint hit at addr */
    GDB_STOP_AWATCH,      /* access watchpoint hit at addr */
    GDB_STOP_EXITED,      /* the program exited with code (reply W) */
    GDB_STOP_TERMINATED,  /* the program died of signal (reply X) */
} gdb_stop_kind;

typedef struct gdb_stop {
    gdb_stop_kind kind;
    int thread;           /* thread that stopped (>= 1), or 0: the first */
    int signal;           /* GDB_SIGNAL_*; 0 means TRAP for break/watch kinds */
    uint64_t addr;        /* data address for the watch kinds */
    int code;             /* exit code (EXITED) */
} gdb_stop;

/* Sink for monitor-command output. */
typedef void (*gdb_out_fn)(void *ctx, const char *text, size_t len);

/* The target.  Any callback may be NULL: the matching packets then get the
 * empty ("unsupported") reply, or a sensible default where noted.  `t` is
 * the target pointer given to gdb_session_new.  Thread ids are positive. */
typedef struct gdb_target_ops {
    /* Registers by gdb remote number (the regnum of the target XML).  On
     * entry *len is the room in buf (GDB_REG_MAX); read_reg sets it to the
     * register's size in bytes and fills buf in target byte order. */
    int (*read_reg)(void *t, int thread, int regno, uint8_t *buf, size_t *len);
    int (*write_reg)(void *t, int thread, int regno, const uint8_t *buf, size_t len);
    /* Number of registers (0..n-1) in the 'g' packet; the rest are reached
     * with 'p'/'P'.  0: all registers until read_reg fails (at most 256). */
    int g_packet_regs;

    /* Debugger-view memory: all len bytes or an error (GDB_EFAULT).  On a
     * failed read the stub retries smaller pieces to return a prefix. */
    int (*read_mem)(void *t, uint64_t addr, uint8_t *buf, size_t len);
    int (*write_mem)(void *t, uint64_t addr, const uint8_t *buf, size_t len);

    /* type is GDB_BP_* / GDB_WP_*; kind is the Z packet's kind (the
     * breakpoint length for breakpoints, the byte count for watchpoints). */
    int (*insert_bp)(void *t, int type, uint64_t addr, uint64_t kind);
    int (*remove_bp)(void *t, int type, uint64_t addr, uint64_t kind);

    /* Start the target and return at once (see the threading contract).
     * thread: the thread to step or (step 0) the one thread to continue
     * while the others stay stopped, or -1 for all threads.  step: execute one
     * instruction on `thread` then stop (other threads may move or not, the
     * target decides).  signal: GDB_SIGNAL_* to deliver, 0 for none.
     * Return != 0 if the target cannot run; the stub then replies E01. */
    int (*resume)(void *t, int thread, int step, int signal);
    /* Ctrl-C while running: request a stop; do not wait for it. */
    void (*interrupt)(void *t);
    /* Optional: 'c ADDR'/'s ADDR' set the pc via write_reg(pc_regno).
     * 0 or negative: none (those forms then get E01); no architecture
     * numbers its pc 0, and a zero-initialised table stays safe. */
    int pc_regno;

    /* Threads.  thread_list fills up to max ids and returns the total count.
     * NULL: one thread with id 1. */
    int (*thread_list)(void *t, int *ids, int max);
    /* Free-form text for `info threads`, NUL-terminated; returns its length
     * or < 0. */
    int (*thread_extra_info)(void *t, int thread, char *buf, size_t buflen);

    /* 'monitor CMD' (qRcmd): write text through out() (only during this
     * call; each call becomes 'O' packets at once); return 0 or < 0. */
    int (*monitor)(void *t, const char *cmd, gdb_out_fn out, void *out_ctx);

    /* Target description: NUL-terminated XML for an annex ("target.xml" and
     * whatever it xi:includes), or NULL for an unknown annex. */
    const char *(*target_xml)(void *t, const char *annex);
    /* Path of the running executable (qXfer:exec-file), or NULL. */
    const char *(*exec_file)(void *t);
    /* Auxiliary vector bytes from offset: returns the number of bytes copied
     * (0 at the end) or < 0. */
    long (*read_auxv)(void *t, uint64_t offset, uint8_t *buf, size_t len);
    /* qOffsets: relocation of the loaded program, or NULL for unsupported. */
    int (*offsets)(void *t, uint64_t *text, uint64_t *data);

    /* gdb detaches ('D') or kills ('k', vKill).  The session is finished
     * afterwards.  NULL: nothing to do. */
    void (*detach)(void *t);
    void (*kill)(void *t);
} gdb_target_ops;

/* Writes len bytes to gdb; returns < 0 if the link is gone (the session
 * then becomes GDB_SESSION_CLOSED). */
typedef int (*gdb_write_fn)(void *ctx, const void *data, size_t len);

typedef struct gdb_session gdb_session;

typedef enum gdb_session_state {
    GDB_SESSION_STOPPED = 0,  /* target stopped, waiting for commands */
    GDB_SESSION_RUNNING,      /* resumed, stop reply pending */
    GDB_SESSION_DETACHED,     /* gdb sent D */
    GDB_SESSION_KILLED,       /* gdb sent k / vKill */
    GDB_SESSION_CLOSED,       /* the link broke (write failed, disconnect) */
} gdb_session_state;

/* ops and target must outlive the session.  Returns NULL on OOM. */
gdb_session *gdb_session_new(const gdb_target_ops *ops, void *target,
                             gdb_write_fn write, void *write_ctx);
void gdb_session_free(gdb_session *s);

/* Bytes received from gdb, in any fragmentation. */
void gdb_session_feed(gdb_session *s, const void *data, size_t len);

/* The target stopped (any thread; see the contract).  stop->thread 0
 * means the first thread of the last thread list.  Ignored unless the
 * session is RUNNING, except that EXITED/TERMINATED are also recorded while
 * stopped (so a later '?' reports them). */
void gdb_session_report_stop(gdb_session *s, const gdb_stop *stop);

gdb_session_state gdb_session_state_get(gdb_session *s);

/* The link to gdb is gone: interrupt a running target and close. */
void gdb_session_disconnect(gdb_session *s);

/* Number of well-formed packets handled so far (for tests, fuzzing). */
unsigned long gdb_session_packets(gdb_session *s);

/* The built-in riscv64 target description: "target.xml" and the feature
 * files it includes, or NULL for an unknown annex. */
const char *gdb_riscv64_xml(const char *annex);

#ifdef __cplusplus
}
#endif
#endif
