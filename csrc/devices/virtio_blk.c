/* virtio_blk.c — virtio block device (id 2) backed by a raw image file.
 * Reads and writes go straight to the file (pread/pwrite), so the host's
 * page cache holds every completed write even if vmpy is killed; FLUSH
 * requests and closing the device fdatasync it to the disk. */
#include "virtio.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };
#define F_RO (1ull << 5)
#define F_BLK_SIZE (1ull << 6)
#define F_FLUSH (1ull << 9)
#define F_SEG_MAX (1ull << 2)

typedef struct blk {
    int fd;
    bool ro;
    uint64_t sectors;
    uint8_t config[24];          /* capacity, size_max, seg_max, geometry, blk_size */
} blk;

static int rw(blk *b, const virtio_chain *ch, uint64_t sector, bool write, uint32_t *written)
{
    uint64_t off = sector * 512;
    /* The header is the first 16 readable bytes, the status the last
     * writable byte: data is everything between. */
    size_t skip = 16, total = write ? virtio_chain_readable(ch) - 16 : virtio_chain_writable(ch) - 1;
    if ((off + total) / 512 > b->sectors || off / 512 > b->sectors)
        return S_IOERR;
    size_t pos = 0;
    for (int i = 0; i < ch->nseg && pos < total; i++) {
        if (ch->seg[i].write != !write)
            continue;
        uint8_t *p = ch->seg[i].p;
        size_t len = ch->seg[i].len;
        if (write && skip) {                  /* skip the header */
            size_t k = skip < len ? skip : len;
            p += k; len -= k; skip -= k;
        }
        if (len > total - pos)
            len = total - pos;
        size_t done = 0;
        while (done < len) {
            ssize_t n = write ? pwrite(b->fd, p + done, len - done, (off_t)(off + pos + done))
                              : pread(b->fd, p + done, len - done, (off_t)(off + pos + done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return S_IOERR;
            if (n == 0) {                     /* past the end of a short file: zeros */
                if (write)
                    return S_IOERR;
                memset(p + done, 0, len - done);
                break;
            }
            done += (size_t)n;
        }
        pos += len;
    }
    if (!write)
        *written = (uint32_t)pos;
    return S_OK;
}

static uint32_t blk_request(void *dev, int q, const virtio_chain *ch)
{
    blk *b = dev;
    uint8_t hdr[16];
    uint32_t written = 0;
    if (virtio_chain_read(ch, 0, hdr, 16) < 16 || virtio_chain_writable(ch) < 1)
        return 0;
    uint32_t type;
    uint64_t sector;
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);
    uint8_t status = S_OK;
    switch (type) {
    case T_IN: status = (uint8_t)rw(b, ch, sector, false, &written); break;
    case T_OUT: status = b->ro ? S_IOERR : (uint8_t)rw(b, ch, sector, true, &written); break;
    case T_FLUSH: status = b->ro || fdatasync(b->fd) == 0 ? S_OK : S_IOERR; break;
    case T_GET_ID: {
        char id[20] = "vmpy-virtio-blk";
        size_t room = virtio_chain_writable(ch) - 1;
        written = (uint32_t)virtio_chain_write(ch, 0, id, room < 20 ? room : 20);
        break;
    }
    default: status = S_UNSUPP; break;
    }
    virtio_chain_write(ch, virtio_chain_writable(ch) - 1, &status, 1);
    return written + 1;
}

static void blk_flush(void *dev)
{
    blk *b = dev;
    if (!b->ro)
        fdatasync(b->fd);
}

static void blk_free(void *dev)
{
    blk *b = dev;
    close(b->fd);
    free(b);
}

virtio_mmio *virtio_blk_new(vm_machine *m, vm_irq_line irq, const char *path, bool readonly,
                            char *err, size_t errlen)
{
    blk *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->ro = readonly;
    b->fd = open(path, readonly ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CLOEXEC);
    struct stat st;
    if (b->fd < 0 || fstat(b->fd, &st) || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot open disk image %s: %s", path,
                 b->fd < 0 ? strerror(errno) : "not a regular file");
        if (b->fd >= 0)
            close(b->fd);
        free(b);
        return NULL;
    }
    b->sectors = (uint64_t)st.st_size / 512;
    memcpy(b->config, &b->sectors, 8);
    uint32_t seg_max = VIRTIO_MAX_SEGS - 2, blk_size = 512;
    memcpy(b->config + 12, &seg_max, 4);
    memcpy(b->config + 20, &blk_size, 4);
    virtio_device d = { .device_id = 2, .nqueues = 1, .config = b->config, .config_size = sizeof b->config,
                        .features = F_FLUSH | F_SEG_MAX | F_BLK_SIZE | (readonly ? F_RO : 0),
                        .request = blk_request, .flush = blk_flush, .free = blk_free, .dev = b };
    virtio_mmio *v = virtio_mmio_new(m, irq, d);
    if (!v)
        snprintf(err, errlen, "out of memory");
    return v;
}
