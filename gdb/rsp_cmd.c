/* rsp_cmd.c — packet dispatch, threads, execution control (c s C S ?),
 * breakpoints (Z z), H, T, D, k. */
#include <string.h>
#include "rsp_internal.h"

bool rsp_starts(const char *pkt, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(pkt, prefix, n) == 0;
}

/* ---- threads ----------------------------------------------------------- */

int rsp_threads(gdb_session *s)
{
    int n = 0;

    if (s->ops->thread_list)
        n = s->ops->thread_list(s->t, s->tids, RSP_MAX_THREADS);
    if (n > RSP_MAX_THREADS)
        n = RSP_MAX_THREADS;
    if (n <= 0 || s->tids[0] <= 0) {
        s->tids[0] = 1;
        n = n <= 0 ? 1 : n;
    }
    s->first_tid = s->tids[0];
    return n;
}

int rsp_first_thread(gdb_session *s)
{
    rsp_threads(s);
    return s->tids[0] > 0 ? s->tids[0] : 1;
}

bool rsp_thread_exists(gdb_session *s, int tid)
{
    int n = rsp_threads(s);

    for (int i = 0; i < n; i++)
        if (s->tids[i] == tid)
            return true;
    return false;
}

int rsp_resolve_thread(gdb_session *s, int tid)
{
    if (tid > 0)
        return tid;
    if (s->last_stop.thread > 0)
        return s->last_stop.thread;
    return rsp_first_thread(s);
}

/* ---- execution ----------------------------------------------------------- */

void rsp_resume(gdb_session *s, int thread, int step, int signal)
{
    if (!s->ops->resume) {
        rsp_reply_error(s, 0x01);
        return;
    }
    s->state = GDB_SESSION_RUNNING;
    /* The target may report its stop from inside resume(): the lock is
     * recursive and report_stop sees RUNNING. */
    if (s->ops->resume(s->t, thread, step, signal) != 0 &&
        s->state == GDB_SESSION_RUNNING) {
        s->state = GDB_SESSION_STOPPED;
        rsp_reply_error(s, 0x01);
    }
}

/* 'c ADDR' forms: writes ADDR to the pc (little-endian, the pc's size as
 * read_reg reports it).  Sends E01 and returns false on failure. */
static bool set_pc(gdb_session *s, const char **p, const char *end)
{
    uint8_t buf[GDB_REG_MAX];
    size_t len = sizeof buf;
    int thread = rsp_resolve_thread(s, s->c_thread);
    uint64_t addr;

    if (!rsp_parse_hex(p, end, &addr) || *p != end || s->ops->pc_regno <= 0 ||
        !s->ops->read_reg || !s->ops->write_reg ||
        s->ops->read_reg(s->t, thread, s->ops->pc_regno, buf, &len) != GDB_OK ||
        len == 0 || len > sizeof buf) {
        rsp_reply_error(s, 0x01);
        return false;
    }
    for (size_t i = 0; i < len; i++)
        buf[i] = i < 8 ? (uint8_t)(addr >> (8 * i)) : 0;
    if (s->ops->write_reg(s->t, thread, s->ops->pc_regno, buf, len) != GDB_OK) {
        rsp_reply_error(s, 0x01);
        return false;
    }
    return true;
}

/* c [ADDR], s [ADDR], C SIG [;ADDR], S SIG [;ADDR] */
static void cmd_continue(gdb_session *s, const char *pkt, size_t len)
{
    const char *p = pkt + 1, *end = pkt + len;
    int step = pkt[0] == 's' || pkt[0] == 'S';
    uint64_t sig = 0;

    if (pkt[0] == 'C' || pkt[0] == 'S') {
        if (!rsp_parse_hex(&p, end, &sig) || sig > 0xff) {
            rsp_reply_error(s, 0x01);
            return;
        }
        if (p < end && *p == ';')
            p++;
        else if (p != end) {
            rsp_reply_error(s, 0x01);
            return;
        }
    }
    if (p < end && !set_pc(s, &p, end))
        return;
    rsp_resume(s, step ? rsp_resolve_thread(s, s->c_thread) : -1, step, (int)sig);
}

/* ---- breakpoints --------------------------------------------------------- */

static void cmd_bp(gdb_session *s, const char *pkt, size_t len)
{
    const char *p = pkt + 1, *end = pkt + len;
    uint64_t type, addr, kind;
    int (*fn)(void *, int, uint64_t, uint64_t) =
        pkt[0] == 'Z' ? s->ops->insert_bp : s->ops->remove_bp;
    int rc;

    if (!rsp_parse_hex(&p, end, &type) || type > 4 || p >= end || *p++ != ',' ||
        !rsp_parse_hex(&p, end, &addr) || p >= end || *p++ != ',' ||
        !rsp_parse_hex(&p, end, &kind) || (p != end && *p != ';')) {
        rsp_reply_error(s, 0x01);
        return;
    }
    if (!fn) {
        rsp_reply(s, "");
        return;
    }
    rc = fn(s->t, (int)type, addr, kind);
    rsp_reply(s, rc == GDB_OK ? "OK" : rc == GDB_ENOTSUP ? "" : "E01");
}

/* ---- thread selection, detach, kill ------------------------------------------- */

static void cmd_H(gdb_session *s, const char *pkt, size_t len)
{
    const char *p = pkt + 2, *end = pkt + len;
    int tid;

    if (len < 3 || (pkt[1] != 'g' && pkt[1] != 'c') ||
        !rsp_parse_tid(&p, end, &tid) || p != end ||
        (tid > 0 && !rsp_thread_exists(s, tid))) {
        rsp_reply_error(s, 0x01);
        return;
    }
    if (pkt[1] == 'g')
        s->g_thread = tid;
    else
        s->c_thread = tid;
    rsp_reply(s, "OK");
}

static void cmd_T(gdb_session *s, const char *pkt, size_t len)
{
    const char *p = pkt + 1, *end = pkt + len;
    int tid;

    if (!rsp_parse_tid(&p, end, &tid) || p != end || tid <= 0 ||
        !rsp_thread_exists(s, tid))
        rsp_reply_error(s, 0x01);
    else
        rsp_reply(s, "OK");
}

static void cmd_detach(gdb_session *s)
{
    rsp_reply(s, "OK");
    if (s->ops->detach)
        s->ops->detach(s->t);
    if (s->state != GDB_SESSION_CLOSED)
        s->state = GDB_SESSION_DETACHED;
}

static void cmd_kill(gdb_session *s, bool reply)
{
    if (reply)
        rsp_reply(s, "OK");       /* vKill answers; plain 'k' has no reply */
    if (s->ops->kill)
        s->ops->kill(s->t);
    if (s->state != GDB_SESSION_CLOSED)
        s->state = GDB_SESSION_KILLED;
}

/* ---- dispatch ---------------------------------------------------------------- */

void rsp_dispatch(gdb_session *s, char *pkt, size_t len)
{
    if (len == 0) {
        rsp_reply(s, "");
        return;
    }
    switch (pkt[0]) {
    case '?':
        rsp_threads(s);               /* refreshes first_tid */
        rsp_format_stop(s, &s->last_stop);
        rsp_out_send(s);
        break;
    case 'g': case 'G': case 'p': case 'P': case 'm': case 'M': case 'X':
        rsp_data_packet(s, pkt, len);
        break;
    case 'c': case 'C': case 's': case 'S':
        cmd_continue(s, pkt, len);
        break;
    case 'Z': case 'z':
        cmd_bp(s, pkt, len);
        break;
    case 'H':
        cmd_H(s, pkt, len);
        break;
    case 'T':
        cmd_T(s, pkt, len);
        break;
    case 'D':
        cmd_detach(s);
        break;
    case 'k':
        cmd_kill(s, false);
        break;
    case 'q':
        rsp_query(s, pkt, len);
        break;
    case 'Q':
        rsp_set(s, pkt, len);
        break;
    case 'v':
        if (rsp_starts(pkt, len, "vKill"))
            cmd_kill(s, true);
        else
            rsp_vpacket(s, pkt, len);
        break;
    default:
        rsp_reply(s, "");        /* unsupported, as the protocol requires */
        break;
    }
}
