/* rsp_hex.c — hex numbers, hex strings and binary escapes of the remote
 * protocol.  Every parser is bounded by an explicit end pointer because
 * packets may carry NUL bytes (X data) and arbitrary garbage. */
#include "rsp_internal.h"

int rsp_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool rsp_parse_hex(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;
    uint64_t acc = 0;
    int d;

    if (q >= end || rsp_hexval((unsigned char)*q) < 0)
        return false;
    while (q < end && (d = rsp_hexval((unsigned char)*q)) >= 0) {
        if (acc >> 60)
            return false;          /* would overflow 64 bits */
        acc = (acc << 4) | (uint64_t)d;
        q++;
    }
    *p = q;
    *v = acc;
    return true;
}

bool rsp_parse_tid(const char **p, const char *end, int *tid)
{
    uint64_t v;

    if (end - *p >= 2 && (*p)[0] == '-' && (*p)[1] == '1') {
        *p += 2;
        *tid = -1;
        return true;
    }
    if (!rsp_parse_hex(p, end, &v) || v > 0x7fffffff)
        return false;
    *tid = (int)v;
    return true;
}

bool rsp_hex_decode(const char *hex, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = rsp_hexval((unsigned char)hex[2 * i]);
        int lo = rsp_hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

long rsp_unescape(char *data, size_t len)
{
    size_t r = 0, w = 0;

    while (r < len) {
        if (data[r] == '}') {
            if (r + 1 >= len)
                return -1;
            data[w++] = (char)(data[r + 1] ^ 0x20);
            r += 2;
        } else {
            data[w++] = data[r++];
        }
    }
    return (long)w;
}
