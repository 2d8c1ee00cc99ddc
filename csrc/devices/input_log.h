/* input_log.h — external input stamped with the instruction count at which
 * it reached the guest (input_log.c): a board records what entered its
 * devices (console bytes into the UART FIFO) and, on replay, hands the same
 * bytes back at the same counts.  Not thread-safe: the board's lock guards it. */
#ifndef VM_INPUT_LOG_H
#define VM_INPUT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vm_input_log vm_input_log;

vm_input_log *vm_input_log_new(void);
void vm_input_log_free(vm_input_log *l);
/* Appends n bytes that arrived at instruction count at (non-decreasing);
 * bytes at the same count as the last entry join it.  -1: out of memory. */
int vm_input_log_append(vm_input_log *l, uint64_t at, const uint8_t *data, size_t n);
/* Recording: removes the oldest entry, copying up to max bytes of it into
 * buf; returns its length, or -1 if the log is empty. */
long vm_input_log_pop(vm_input_log *l, uint64_t *at, uint8_t *buf, size_t max);
/* Replay: copies up to max bytes of the entries due at instruction count
 * now (at <= now) into out and consumes them; returns the count. */
size_t vm_input_log_due(vm_input_log *l, uint64_t now, uint8_t *out, size_t max);
/* Replay: the instruction count of the next entry; false if none. */
bool vm_input_log_next_at(const vm_input_log *l, uint64_t *at);
/* Bytes not consumed yet. */
size_t vm_input_log_pending(const vm_input_log *l);

#endif
