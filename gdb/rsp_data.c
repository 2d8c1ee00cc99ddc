/* rsp_data.c — register and memory packets: g G p P m M X. */
#include <string.h>
#include "rsp_internal.h"

/* ---- registers ------------------------------------------------------------ */

static int reg_thread(gdb_session *s)
{
    return rsp_resolve_thread(s, s->g_thread);
}

static int g_limit(gdb_session *s)
{
    int n = s->ops->g_packet_regs;
    return n > 0 && n <= 4096 ? n : 256;
}

static void cmd_g(gdb_session *s)
{
    uint8_t buf[GDB_REG_MAX];
    int thread = reg_thread(s), n = g_limit(s);

    if (!s->ops->read_reg) {
        rsp_reply(s, "");
        return;
    }
    rsp_out_reset(s);
    for (int r = 0; r < n; r++) {
        size_t len = sizeof buf;
        int rc = s->ops->read_reg(s->t, thread, r, buf, &len);
        if (rc == GDB_ENOREG && s->ops->g_packet_regs <= 0)
            break;
        if (len > sizeof buf || (rc != GDB_OK && rc != GDB_EUNAVAIL)) {
            rsp_reply_error(s, 0x01);
            return;
        }
        if (s->out_len + 2 * len > GDB_PACKET_MAX)
            break;                     /* gdb fetches the rest with 'p' */
        if (rc == GDB_EUNAVAIL) {
            for (size_t i = 0; i < len; i++)
                rsp_out_str(s, "xx");
        } else {
            rsp_out_hex(s, buf, len);
        }
    }
    rsp_out_send(s);
}

static void cmd_G(gdb_session *s, const char *hex, size_t hexlen)
{
    uint8_t buf[GDB_REG_MAX];
    int thread = reg_thread(s), n = g_limit(s);
    size_t pos = 0;

    if (!s->ops->read_reg || !s->ops->write_reg || hexlen % 2) {
        rsp_reply(s, !s->ops->write_reg ? "" : "E01");
        return;
    }
    for (int r = 0; r < n && pos < hexlen; r++) {
        size_t len = sizeof buf;
        int rc = s->ops->read_reg(s->t, thread, r, buf, &len);   /* its size */
        if (rc == GDB_ENOREG || len > sizeof buf || (rc != GDB_OK && rc != GDB_EUNAVAIL))
            break;
        if (hexlen - pos < 2 * len || !rsp_hex_decode(hex + pos, len, buf)) {
            rsp_reply_error(s, 0x01);
            return;
        }
        if (s->ops->write_reg(s->t, thread, r, buf, len) != GDB_OK) {
            rsp_reply_error(s, 0x01);
            return;
        }
        pos += 2 * len;
    }
    rsp_reply(s, "OK");
}

static void cmd_p(gdb_session *s, const char *p, const char *end)
{
    uint8_t buf[GDB_REG_MAX];
    uint64_t regno;
    size_t len = sizeof buf;
    int rc;

    if (!s->ops->read_reg) {
        rsp_reply(s, "");
        return;
    }
    if (!rsp_parse_hex(&p, end, &regno) || p != end || regno > 0x7fffffff) {
        rsp_reply_error(s, 0x01);
        return;
    }
    rc = s->ops->read_reg(s->t, reg_thread(s), (int)regno, buf, &len);
    if ((rc != GDB_OK && rc != GDB_EUNAVAIL) || len > sizeof buf) {
        rsp_reply_error(s, 0x00);
        return;
    }
    rsp_out_reset(s);
    if (rc == GDB_EUNAVAIL) {
        for (size_t i = 0; i < len; i++)
            rsp_out_str(s, "xx");
    } else {
        rsp_out_hex(s, buf, len);
    }
    rsp_out_send(s);
}

static void cmd_P(gdb_session *s, const char *p, const char *end)
{
    uint8_t buf[GDB_REG_MAX];
    uint64_t regno;
    size_t n;

    if (!s->ops->write_reg) {
        rsp_reply(s, "");
        return;
    }
    if (!rsp_parse_hex(&p, end, &regno) || p == end || *p != '=' || regno > 0x7fffffff) {
        rsp_reply_error(s, 0x01);
        return;
    }
    p++;
    n = (size_t)(end - p);
    if (n == 0 || n % 2 || n / 2 > sizeof buf || !rsp_hex_decode(p, n / 2, buf)) {
        rsp_reply_error(s, 0x01);
        return;
    }
    rsp_reply(s, s->ops->write_reg(s->t, reg_thread(s), (int)regno, buf, n / 2) == GDB_OK
                 ? "OK" : "E01");
}

/* ---- memory ----------------------------------------------------------------- */

/* "ADDR,LEN" then `term` (':' for M/X, end of packet for m). */
static bool parse_addr_len(const char **p, const char *end, uint64_t *addr, uint64_t *len)
{
    if (!rsp_parse_hex(p, end, addr) || *p >= end || **p != ',')
        return false;
    (*p)++;
    return rsp_parse_hex(p, end, len);
}

/* Bytes from addr to the top of the address space (0 = all 2^64). */
static uint64_t clamp_len(uint64_t addr, uint64_t len)
{
    if (addr && len > 0 - addr)
        return 0 - addr;
    return len;
}

/* Reads as much of [addr, addr+len) as is accessible from the start. */
static size_t read_prefix(gdb_session *s, uint64_t addr, uint8_t *buf, size_t len)
{
    size_t n = 0;

    if (s->ops->read_mem(s->t, addr, buf, len) == GDB_OK)
        return len;
    /* Fall back to single bytes so 'x/s' near the end of a region works. */
    while (n < len && s->ops->read_mem(s->t, addr + n, buf + n, 1) == GDB_OK)
        n++;
    return n;
}

static void cmd_m(gdb_session *s, const char *p, const char *end)
{
    uint64_t addr, len;
    size_t got;

    if (!s->ops->read_mem) {
        rsp_reply(s, "");
        return;
    }
    if (!parse_addr_len(&p, end, &addr, &len) || p != end || len == 0) {
        rsp_reply_error(s, 0x01);
        return;
    }
    len = clamp_len(addr, len);
    if (len > RSP_MEM_CHUNK)
        len = RSP_MEM_CHUNK;           /* a short reply is allowed */
    got = read_prefix(s, addr, s->buf, (size_t)len);
    if (got == 0) {
        rsp_reply_error(s, 0x0e);      /* EFAULT */
        return;
    }
    rsp_out_reset(s);
    rsp_out_hex(s, s->buf, got);
    rsp_out_send(s);
}

static void write_reply(gdb_session *s, uint64_t addr, const uint8_t *data, uint64_t len)
{
    if (len == 0) {                    /* gdb probes X support with length 0 */
        rsp_reply(s, "OK");
        return;
    }
    if (clamp_len(addr, len) != len) {
        rsp_reply_error(s, 0x0e);
        return;
    }
    rsp_reply(s, s->ops->write_mem(s->t, addr, data, (size_t)len) == GDB_OK ? "OK" : "E0e");
}

static void cmd_M(gdb_session *s, const char *p, const char *end)
{
    uint64_t addr, len;

    if (!s->ops->write_mem) {
        rsp_reply(s, "");
        return;
    }
    if (!parse_addr_len(&p, end, &addr, &len) || p >= end || *p != ':') {
        rsp_reply_error(s, 0x01);
        return;
    }
    p++;
    if ((uint64_t)(end - p) / 2 != len || (end - p) % 2 || len > sizeof s->buf ||
        !rsp_hex_decode(p, (size_t)len, s->buf)) {
        rsp_reply_error(s, 0x01);
        return;
    }
    write_reply(s, addr, s->buf, len);
}

static void cmd_X(gdb_session *s, char *pkt, size_t plen)
{
    const char *p = pkt + 1, *end = pkt + plen;
    uint64_t addr, len;
    long n;

    if (!s->ops->write_mem) {
        rsp_reply(s, "");
        return;
    }
    if (!parse_addr_len(&p, end, &addr, &len) || p >= end || *p != ':') {
        rsp_reply_error(s, 0x01);
        return;
    }
    p++;
    n = rsp_unescape((char *)p, (size_t)(end - p));
    if (n < 0 || (uint64_t)n != len) {
        rsp_reply_error(s, 0x01);
        return;
    }
    write_reply(s, addr, (const uint8_t *)p, len);
}

/* pkt[0] is one of g G p P m M X. */
void rsp_data_packet(gdb_session *s, char *pkt, size_t len)
{
    const char *end = pkt + len;

    switch (pkt[0]) {
    case 'g': cmd_g(s); break;
    case 'G': cmd_G(s, pkt + 1, len - 1); break;
    case 'p': cmd_p(s, pkt + 1, end); break;
    case 'P': cmd_P(s, pkt + 1, end); break;
    case 'm': cmd_m(s, pkt + 1, end); break;
    case 'M': cmd_M(s, pkt + 1, end); break;
    case 'X': cmd_X(s, pkt, len); break;
    default: rsp_reply(s, ""); break;
    }
}
