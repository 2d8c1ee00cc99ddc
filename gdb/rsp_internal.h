/* rsp_internal.h — session layout and helpers shared by the gdb/rsp_*.c
 * files.  Not part of the library's interface. */
#ifndef GDB_RSP_INTERNAL_H
#define GDB_RSP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include "rsp.h"

/* A reply payload (before escaping) never exceeds this; escaping can at
 * most double it, plus "$", "#xx". */
#define RSP_OUT_MAX (2 * GDB_PACKET_MAX + 64)
#define RSP_TX_MAX (2 * RSP_OUT_MAX + 4)
/* Largest 'm' read / qXfer chunk: the hex (or escaped) reply must fit in
 * the PacketSize we advertise, which gdb also uses as its reply budget. */
#define RSP_MEM_CHUNK ((GDB_PACKET_MAX - 16) / 2)
#define RSP_MAX_THREADS 1024
#define RSP_MAX_RETRANSMIT 8

enum rx_state { RX_IDLE, RX_DATA, RX_CSUM1, RX_CSUM2 };

struct gdb_session {
    const gdb_target_ops *ops;
    void *t;
    gdb_write_fn write;
    void *write_ctx;
    pthread_mutex_t lock;      /* recursive: see the threading contract */

    /* receiver */
    enum rx_state rx_state;
    uint8_t rx_sum;            /* running checksum of the payload */
    int rx_csum_hi;
    size_t rx_len;
    bool rx_overflow;          /* payload longer than GDB_PACKET_MAX */
    char rx[GDB_PACKET_MAX + 1];

    /* transmitter: the last framed packet, kept for '-' retransmission */
    char tx[RSP_TX_MAX];
    size_t tx_len;
    int retransmits;
    bool noack;

    /* protocol state */
    gdb_session_state state;
    int g_thread, c_thread;    /* Hg / Hc: 0 = any, -1 = all */
    int thread_iter;           /* next index for qsThreadInfo */
    int first_tid;             /* tids[0] of the last thread list: used for
                                  stops reported without a thread, so that
                                  report_stop never calls into the target */
    gdb_stop last_stop;
    bool gdb_swbreak, gdb_hwbreak;   /* features gdb told us in qSupported */
    unsigned long packets;

    /* scratch for decoded packet data, memory reads and thread lists */
    uint8_t buf[GDB_PACKET_MAX];
    int tids[RSP_MAX_THREADS];

    /* reply payload under construction */
    char out[RSP_OUT_MAX];
    size_t out_len;
    bool out_overflow;
};

/* rsp_hex.c */
int rsp_hexval(int c);
/* Parses hex digits from *p (up to end) into *v; at least one digit, no
 * overflow.  Advances *p.  Returns false on error. */
bool rsp_parse_hex(const char **p, const char *end, uint64_t *v);
/* A thread id: "-1" -> -1, else hex (0 = any).  Advances *p. */
bool rsp_parse_tid(const char **p, const char *end, int *tid);
/* Decodes 2*n hex digits into n bytes; false on any bad digit. */
bool rsp_hex_decode(const char *hex, size_t n, uint8_t *out);
/* Removes '}' escapes in place; returns the decoded length or -1 if the
 * data ends inside an escape. */
long rsp_unescape(char *data, size_t len);

/* rsp_session.c: building and sending replies */
void rsp_out_reset(gdb_session *s);
void rsp_out_raw(gdb_session *s, const void *data, size_t len);
void rsp_out_str(gdb_session *s, const char *str);
void rsp_out_hex(gdb_session *s, const uint8_t *data, size_t len);
void rsp_out_hexnum(gdb_session *s, uint64_t v);
void rsp_out_byte(gdb_session *s, unsigned v);     /* two hex digits */
void rsp_out_send(gdb_session *s);                 /* frames and writes out[] */
void rsp_reply(gdb_session *s, const char *str);   /* out = str, send */
void rsp_reply_error(gdb_session *s, int code);    /* "Exx" */
/* Formats the stop reply for *st into out[] (no send). */
void rsp_format_stop(gdb_session *s, const gdb_stop *st);

/* rsp_cmd.c */
void rsp_dispatch(gdb_session *s, char *pkt, size_t len);
int rsp_first_thread(gdb_session *s);
/* Fills s->tids; returns how many (at least 1: a target without a thread
 * list has the single thread 1). */
int rsp_threads(gdb_session *s);
bool rsp_thread_exists(gdb_session *s, int tid);
/* 0 / -1 (any / all) -> the thread that last stopped or the first one. */
int rsp_resolve_thread(gdb_session *s, int tid);
/* Starts the target; sends E01 if it cannot run. */
void rsp_resume(gdb_session *s, int thread, int step, int signal);
bool rsp_starts(const char *pkt, size_t len, const char *prefix);

/* rsp_data.c: g G p P m M X */
void rsp_data_packet(gdb_session *s, char *pkt, size_t len);

/* rsp_query.c */
void rsp_query(gdb_session *s, char *pkt, size_t len);      /* 'q...' */
void rsp_set(gdb_session *s, char *pkt, size_t len);        /* 'Q...' */
void rsp_vpacket(gdb_session *s, char *pkt, size_t len);    /* 'v...' */

#endif
