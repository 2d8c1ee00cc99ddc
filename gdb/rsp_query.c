/* rsp_query.c — general queries (q...), settings (Q...) and v packets:
 * qSupported, qXfer, thread queries, qRcmd, QStartNoAckMode, vCont. */
#include <stdio.h>
#include <string.h>
#include "rsp_internal.h"

/* ---- qSupported ---------------------------------------------------------- */

static bool has_feature(const char *list, const char *end, const char *feat)
{
    size_t n = strlen(feat);

    while (list < end) {
        const char *semi = memchr(list, ';', (size_t)(end - list));
        const char *stop = semi ? semi : end;
        if ((size_t)(stop - list) == n && memcmp(list, feat, n) == 0)
            return true;
        list = stop + 1;
    }
    return false;
}

static void q_supported(gdb_session *s, const char *pkt, size_t len)
{
    const char *end = pkt + len, *p = pkt + strlen("qSupported");
    char size[32];

    if (p < end && *p == ':') {
        s->gdb_swbreak = has_feature(p + 1, end, "swbreak+");
        s->gdb_hwbreak = has_feature(p + 1, end, "hwbreak+");
    }
    snprintf(size, sizeof size, "PacketSize=%x", GDB_PACKET_MAX);
    rsp_out_reset(s);
    rsp_out_str(s, size);
    rsp_out_str(s, ";QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+");
    if (s->ops->target_xml)
        rsp_out_str(s, ";qXfer:features:read+");
    if (s->ops->exec_file)
        rsp_out_str(s, ";qXfer:exec-file:read+");
    if (s->ops->read_auxv)
        rsp_out_str(s, ";qXfer:auxv:read+");
    rsp_out_send(s);
}

/* ---- qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH -------------------------------- */

/* Replies with the window [offset, offset+want) of a whole object. */
static void xfer_reply_string(gdb_session *s, const char *obj, uint64_t offset, uint64_t want)
{
    size_t total = strlen(obj), n;

    if (offset >= total) {
        rsp_reply(s, "l");
        return;
    }
    n = total - (size_t)offset;
    if (n > want)
        n = (size_t)want;
    rsp_out_reset(s);
    rsp_out_raw(s, offset + n >= total ? "l" : "m", 1);
    rsp_out_raw(s, obj + offset, n);
    rsp_out_send(s);
}

static void xfer_auxv(gdb_session *s, uint64_t offset, uint64_t want)
{
    long got = s->ops->read_auxv(s->t, offset, s->buf, (size_t)want);

    if (got < 0 || (uint64_t)got > want) {
        rsp_reply_error(s, 0x01);
        return;
    }
    rsp_out_reset(s);
    rsp_out_raw(s, (uint64_t)got < want ? "l" : "m", 1);
    rsp_out_raw(s, s->buf, (size_t)got);
    rsp_out_send(s);
}

static void q_xfer(gdb_session *s, char *pkt, size_t len)
{
    char *end = pkt + len, *obj = pkt + strlen("qXfer:"), *annex, *colon;
    const char *p;
    uint64_t offset, want;

    /* Split OBJECT:read:ANNEX:OFFSET,LENGTH at its colons. */
    colon = memchr(obj, ':', (size_t)(end - obj));
    if (!colon || !rsp_starts(colon, (size_t)(end - colon), ":read:")) {
        rsp_reply(s, "");
        return;
    }
    *colon = '\0';
    annex = colon + strlen(":read:");
    colon = memchr(annex, ':', (size_t)(end - annex));
    if (!colon) {
        rsp_reply_error(s, 0x00);
        return;
    }
    *colon = '\0';
    p = colon + 1;
    if (!rsp_parse_hex(&p, end, &offset) || p >= end || *p++ != ',' ||
        !rsp_parse_hex(&p, end, &want) || p != end) {
        rsp_reply_error(s, 0x00);
        return;
    }
    if (want > RSP_MEM_CHUNK)
        want = RSP_MEM_CHUNK;          /* escaped data must fit a packet */

    if (strcmp(obj, "features") == 0 && s->ops->target_xml) {
        const char *xml = s->ops->target_xml(s->t, annex);
        if (xml)
            xfer_reply_string(s, xml, offset, want);
        else
            rsp_reply_error(s, 0x00);
    } else if (strcmp(obj, "exec-file") == 0 && s->ops->exec_file) {
        const char *path = s->ops->exec_file(s->t);
        if (path)
            xfer_reply_string(s, path, offset, want);
        else
            rsp_reply_error(s, 0x00);
    } else if (strcmp(obj, "auxv") == 0 && s->ops->read_auxv && annex[0] == '\0') {
        xfer_auxv(s, offset, want);
    } else {
        rsp_reply(s, "");
    }
}

/* ---- threads --------------------------------------------------------------- */

/* qfThreadInfo starts at index 0, qsThreadInfo continues. */
static void q_thread_info(gdb_session *s, bool first)
{
    int n = rsp_threads(s), i;

    if (first)
        s->thread_iter = 0;
    if (s->thread_iter >= n) {
        rsp_reply(s, "l");
        return;
    }
    rsp_out_reset(s);
    rsp_out_raw(s, "m", 1);
    for (i = s->thread_iter; i < n && s->out_len < GDB_PACKET_MAX - 32; i++) {
        if (i > s->thread_iter)
            rsp_out_raw(s, ",", 1);
        rsp_out_hexnum(s, (uint64_t)(unsigned)s->tids[i]);
    }
    s->thread_iter = i;
    rsp_out_send(s);
}

static void q_thread_extra(gdb_session *s, const char *pkt, size_t len)
{
    const char *p = pkt + strlen("qThreadExtraInfo,"), *end = pkt + len;
    char text[256];
    int tid, n;

    if (!rsp_parse_tid(&p, end, &tid) || p != end || tid <= 0) {
        rsp_reply_error(s, 0x01);
        return;
    }
    if (s->ops->thread_extra_info)
        n = s->ops->thread_extra_info(s->t, tid, text, sizeof text);
    else
        n = snprintf(text, sizeof text, "Thread %d", tid);
    if (n < 0) {
        rsp_reply_error(s, 0x01);
        return;
    }
    if ((size_t)n >= sizeof text)
        n = (int)strnlen(text, sizeof text - 1);
    rsp_out_reset(s);
    rsp_out_hex(s, (const uint8_t *)text, (size_t)n);
    rsp_out_send(s);
}

/* ---- qRcmd: monitor commands ------------------------------------------------ */

/* Monitor output goes to gdb as 'O' console packets, in chunks. */
static void monitor_out(void *ctx, const char *text, size_t len)
{
    gdb_session *s = ctx;
    const size_t chunk = (GDB_PACKET_MAX - 16) / 2;

    while (len) {
        size_t n = len < chunk ? len : chunk;
        rsp_out_reset(s);
        rsp_out_raw(s, "O", 1);
        rsp_out_hex(s, (const uint8_t *)text, n);
        rsp_out_send(s);
        text += n;
        len -= n;
    }
}

static void q_rcmd(gdb_session *s, const char *pkt, size_t len)
{
    const char *hex = pkt + strlen("qRcmd,");
    size_t n = (len - strlen("qRcmd,")) / 2;

    if (!s->ops->monitor) {
        rsp_reply(s, "");
        return;
    }
    if ((len - strlen("qRcmd,")) % 2 || n >= sizeof s->buf ||
        !rsp_hex_decode(hex, n, s->buf) || memchr(s->buf, 0, n)) {
        rsp_reply_error(s, 0x01);
        return;
    }
    s->buf[n] = 0;
    rsp_reply(s, s->ops->monitor(s->t, (const char *)s->buf, monitor_out, s) == 0 ? "OK" : "E01");
}

/* ---- q dispatch ------------------------------------------------------------ */

static void q_offsets(gdb_session *s)
{
    uint64_t text, data;

    if (!s->ops->offsets || s->ops->offsets(s->t, &text, &data) != 0) {
        rsp_reply(s, "");
        return;
    }
    rsp_out_reset(s);
    rsp_out_str(s, "Text=");
    rsp_out_hexnum(s, text);
    rsp_out_str(s, ";Data=");
    rsp_out_hexnum(s, data);
    rsp_out_str(s, ";Bss=");
    rsp_out_hexnum(s, data);
    rsp_out_send(s);
}

void rsp_query(gdb_session *s, char *pkt, size_t len)
{
    if (rsp_starts(pkt, len, "qSupported")) {
        q_supported(s, pkt, len);
    } else if (rsp_starts(pkt, len, "qXfer:")) {
        q_xfer(s, pkt, len);
    } else if (len == 2 && pkt[1] == 'C') {
        rsp_out_reset(s);
        rsp_out_str(s, "QC");
        rsp_out_hexnum(s, (uint64_t)rsp_resolve_thread(s, s->g_thread));
        rsp_out_send(s);
    } else if (len == 12 && rsp_starts(pkt, len, "qfThreadInfo")) {
        q_thread_info(s, true);
    } else if (len == 12 && rsp_starts(pkt, len, "qsThreadInfo")) {
        q_thread_info(s, false);
    } else if (rsp_starts(pkt, len, "qThreadExtraInfo,")) {
        q_thread_extra(s, pkt, len);
    } else if (rsp_starts(pkt, len, "qAttached")) {
        rsp_reply(s, "1");      /* an existing machine: gdb detaches on quit */
    } else if (len == 8 && rsp_starts(pkt, len, "qOffsets")) {
        q_offsets(s);
    } else if (rsp_starts(pkt, len, "qSymbol:")) {
        rsp_reply(s, "OK");     /* we never need symbol values */
    } else if (rsp_starts(pkt, len, "qRcmd,")) {
        q_rcmd(s, pkt, len);
    } else {
        rsp_reply(s, "");
    }
}

void rsp_set(gdb_session *s, char *pkt, size_t len)
{
    if (len == 15 && rsp_starts(pkt, len, "QStartNoAckMode")) {
        /* This packet was acked; the OK still goes out in ack mode. */
        rsp_reply(s, "OK");
        s->noack = true;
    } else {
        rsp_reply(s, "");
    }
}

/* ---- vCont ------------------------------------------------------------------- */

/* vCont;ACTION[:TID]... with ACTION one of c, Cxx, s, Sxx.  In all-stop
 * mode: the first step action picks the thread to step; otherwise, if the
 * only continue actions name one thread (gdb's "c:TID" when it single-steps
 * one thread over a breakpoint by planting a temporary one), only that
 * thread runs; else all threads continue. */
static void v_cont(gdb_session *s, const char *pkt, size_t len)
{
    const char *p = pkt + 5, *end = pkt + len;
    int step_thread = 0, step_sig = 0, cont_sig = 0, cont_only = 0;
    bool stepping = false, cont_all = false;

    if (p >= end) {
        rsp_reply_error(s, 0x01);
        return;
    }
    while (p < end) {
        char act;
        uint64_t sig = 0;
        int tid = 0;

        if (*p++ != ';' || p >= end) {
            rsp_reply_error(s, 0x01);
            return;
        }
        act = *p++;
        if (act != 'c' && act != 'C' && act != 's' && act != 'S') {
            rsp_reply_error(s, 0x01);
            return;
        }
        if ((act == 'C' || act == 'S') && (!rsp_parse_hex(&p, end, &sig) || sig > 0xff)) {
            rsp_reply_error(s, 0x01);
            return;
        }
        if (p < end && *p == ':') {
            p++;
            if (!rsp_parse_tid(&p, end, &tid)) {
                rsp_reply_error(s, 0x01);
                return;
            }
        }
        if ((act == 's' || act == 'S') && !stepping) {
            stepping = true;
            step_thread = rsp_resolve_thread(s, tid > 0 ? tid : s->c_thread);
            step_sig = (int)sig;
        } else if (act == 'c' || act == 'C') {
            if (act == 'C' && !cont_sig)
                cont_sig = (int)sig;
            if (tid > 0 && (!cont_only || cont_only == tid))
                cont_only = tid;
            else
                cont_all = true;
        }
    }
    if (stepping)
        rsp_resume(s, step_thread, 1, step_sig);
    else
        rsp_resume(s, cont_all || !cont_only ? -1 : rsp_resolve_thread(s, cont_only), 0, cont_sig);
}

void rsp_vpacket(gdb_session *s, char *pkt, size_t len)
{
    if (len == 6 && rsp_starts(pkt, len, "vCont?"))
        rsp_reply(s, "vCont;c;C;s;S");
    else if (rsp_starts(pkt, len, "vCont;"))
        v_cont(s, pkt, len);
    else
        rsp_reply(s, "");       /* vMustReplyEmpty and all we do not know */
}
