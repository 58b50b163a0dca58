/*
 * aio_copy: copies a file through a ring-aio pool, with several reads in flight.
 *
 *     aio_copy SRC DST [DEPTH [CHUNK]]
 *
 * Everything goes through the pool (cring_aio_*) and every result comes back as a
 * cring_completion in one ring, reaped with cring_consumer_reap():
 *
 * 1. opens SRC and creates DST (openat), and sizes SRC (statx into this program's struct);
 * 2. keeps DEPTH (default 8) preads of CHUNK bytes (default 65536) in flight, the first DEPTH
 *    submitted as one batch; each finished read is written back at its offset (pwrite) from
 *    the same buffer, and the buffer then reads the next chunk. Short reads and writes are
 *    continued where they stopped;
 * 3. fsyncs DST: the pool runs the fsync only after every earlier write on DST has completed
 *    (the barrier), so its completion says the copy is on disk;
 * 4. closes both descriptors through the pool (cring_aio_close), then destroys the pool and
 *    closes its target, the consumer and the ring.
 *
 * Prints "copied BYTES bytes, depth DEPTH, most reads in flight N, completions M" and exits 0;
 * any failure prints the library's message and exits 1.
 */
#define _GNU_SOURCE
#include "example.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#define SECOND (1000LL * 1000 * 1000)
#define MAX_DEPTH 64

/* Cookies: the slot index, and what the slot was doing. */
#define KIND_SHIFT 32
enum kind { KIND_READ = 1, KIND_WRITE = 2, KIND_OTHER = 3 };

struct slot {
    unsigned char *buf;
    uint64_t off;  /* file offset of the chunk */
    uint64_t len;  /* bytes of the chunk */
    uint64_t done; /* bytes read (while reading) or written (while writing) so far */
    int busy;
};

static cring_aio_pool pool;
static cring_aio_target target;
static cring_consumer consumer;
static uint64_t completions;

static cring_aio_sub make_sub(uint32_t op, int fd, uint64_t cookie)
{
    cring_aio_sub s;
    memset(&s, 0, sizeof s);
    s.op = op;
    s.fd = fd;
    s.cookie = cookie;
    s.target = target;
    return s;
}

static uint64_t cookie_of(enum kind k, unsigned slot)
{
    return ((uint64_t)k << KIND_SHIFT) | slot;
}

/* Reaps one completion (waiting up to 30 s). */
static cring_completion reap_one(void)
{
    cring_completion c;
    size_t n = 0;
    CHECK(cring_consumer_reap(consumer, &c, 1, sizeof c, 1, 30 * SECOND, &n));
    ASSERT(n == 1);
    completions++;
    return c;
}

/* Submits one operation and waits for its completion; returns the result. */
static int32_t run(cring_aio_sub s)
{
    uint64_t id = 0;
    CHECK(cring_aio_submit(pool, &s, sizeof s, &id));
    cring_completion c = reap_one();
    ASSERT(c.user_data == s.cookie);
    return c.result;
}

static cring_aio_sub read_sub(int fd, unsigned i, const struct slot *sl)
{
    cring_aio_sub s = make_sub(CRING_AIO_OP_PREAD, fd, cookie_of(KIND_READ, i));
    s.buf = sl->buf + sl->done;
    s.len = sl->len - sl->done;
    s.offset = sl->off + sl->done;
    return s;
}

static cring_aio_sub write_sub(int fd, unsigned i, const struct slot *sl)
{
    cring_aio_sub s = make_sub(CRING_AIO_OP_PWRITE, fd, cookie_of(KIND_WRITE, i));
    s.buf = sl->buf + sl->done;
    s.len = sl->len - sl->done;
    s.offset = sl->off + sl->done;
    return s;
}

static void submit(cring_aio_sub s)
{
    uint64_t id = 0;
    CHECK(cring_aio_submit(pool, &s, sizeof s, &id));
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s SRC DST [DEPTH [CHUNK]]\n", argv[0]);
        return 2;
    }
    unsigned depth = argc > 3 ? (unsigned)example_number(argv[3]) : 8;
    uint64_t chunk = argc > 4 ? example_number(argv[4]) : 65536;
    if (depth < 1 || depth > MAX_DEPTH || chunk < 1 || chunk > (1u << 30)) {
        fprintf(stderr, "DEPTH must be 1..%d and CHUNK 1..2^30\n", MAX_DEPTH);
        return 2;
    }

    /* The ring completions land in: several workers post, so MPSC; room for every
     * completion that can be outstanding at once. */
    cring_config rcfg = cring_config_init(2 * MAX_DEPTH);
    rcfg.mode = CRING_MODE_MPSC;
    cring_ring ring;
    CHECK(cring_ring_create_heap(&rcfg, &ring));
    CHECK(cring_consumer_open(ring, &consumer));
    CHECK(cring_aio_target_open(ring, &target));

    cring_aio_config pcfg = cring_aio_config_init();
    pcfg.max_workers = depth;
    pcfg.queue_depth = 2 * depth;
    pcfg.backpressure = CRING_AIO_BACKPRESSURE_FAIL; /* never more than depth in flight */
    CHECK(cring_aio_pool_create(&pcfg, &pool));

    /* 1. Open both files and size the source, through the pool. */
    cring_aio_sub s = make_sub(CRING_AIO_OP_OPENAT, AT_FDCWD, cookie_of(KIND_OTHER, 0));
    s.path = argv[1];
    s.flags = O_RDONLY | O_CLOEXEC;
    int src = run(s);
    if (src < 0) {
        fprintf(stderr, "open %s: %s\n", argv[1], strerror(-src));
        return 1;
    }
    s.path = argv[2];
    s.flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
    s.mode = 0644;
    int dst = run(s);
    if (dst < 0) {
        fprintf(stderr, "create %s: %s\n", argv[2], strerror(-dst));
        return 1;
    }
    struct statx st;
    memset(&st, 0, sizeof st);
    s = make_sub(CRING_AIO_OP_STATX, AT_FDCWD, cookie_of(KIND_OTHER, 1));
    s.path = argv[1];
    s.mode = STATX_SIZE;
    s.buf = &st;
    ASSERT(run(s) == 0);
    ASSERT(st.stx_mask & STATX_SIZE);
    uint64_t size = st.stx_size;

    /* 2. The copy: DEPTH slots, each reading a chunk and then writing it. */
    struct slot slots[MAX_DEPTH];
    memset(slots, 0, sizeof slots);
    uint64_t next = 0, copied = 0;
    unsigned reading = 0, most_reading = 0;
    cring_aio_sub first[MAX_DEPTH];
    size_t nfirst = 0;
    for (unsigned i = 0; i < depth && next < size; i++) {
        slots[i].buf = malloc(chunk);
        ASSERT(slots[i].buf != NULL);
        slots[i].off = next;
        slots[i].len = size - next < chunk ? size - next : chunk;
        slots[i].busy = 1;
        next += slots[i].len;
        first[nfirst++] = read_sub(src, i, &slots[i]);
    }
    if (nfirst > 0) {
        size_t accepted = 0;
        CHECK(cring_aio_submit_batch(pool, first, nfirst, sizeof first[0], NULL, &accepted));
        ASSERT(accepted == nfirst);
        reading = (unsigned)nfirst;
        most_reading = reading;
    }
    while (copied < size) {
        cring_completion c = reap_one();
        unsigned i = (unsigned)(c.user_data & 0xFFFFFFFFu);
        enum kind k = (enum kind)(c.user_data >> KIND_SHIFT);
        ASSERT(i < depth && slots[i].busy);
        struct slot *sl = &slots[i];
        if (c.result < 0) {
            fprintf(stderr, "%s at offset %llu: %s\n", k == KIND_READ ? "pread" : "pwrite",
                    (unsigned long long)(sl->off + sl->done), strerror(-c.result));
            return 1;
        }
        sl->done += (uint64_t)c.result;
        if (k == KIND_READ) {
            if (c.result == 0 && sl->done < sl->len) {
                fprintf(stderr, "%s shrank while being copied\n", argv[1]);
                return 1;
            }
            if (sl->done < sl->len) { /* a short read: read the rest */
                submit(read_sub(src, i, sl));
                continue;
            }
            reading--;
            sl->done = 0;
            submit(write_sub(dst, i, sl));
            continue;
        }
        ASSERT(k == KIND_WRITE);
        if (sl->done < sl->len) { /* a short write: write the rest */
            submit(write_sub(dst, i, sl));
            continue;
        }
        copied += sl->len;
        if (next < size) { /* the slot reads the next chunk */
            sl->off = next;
            sl->len = size - next < chunk ? size - next : chunk;
            sl->done = 0;
            next += sl->len;
            submit(read_sub(src, i, sl));
            reading++;
            if (reading > most_reading)
                most_reading = reading;
        } else {
            sl->busy = 0;
        }
    }
    for (unsigned i = 0; i < depth; i++)
        free(slots[i].buf);

    /* 3. The barrier: runs after every earlier write on dst. */
    ASSERT(run(make_sub(CRING_AIO_OP_FSYNC, dst, cookie_of(KIND_OTHER, 2))) == 0);

    /* 4. Close both through the pool (after whatever is in flight on them: nothing now). */
    uint64_t id = 0;
    CHECK(cring_aio_close(pool, target, src, cookie_of(KIND_OTHER, 3), 0, &id));
    ASSERT(reap_one().result == 0);
    CHECK(cring_aio_close(pool, target, dst, cookie_of(KIND_OTHER, 4), 0, &id));
    ASSERT(reap_one().result == 0);

    /* A worker counts a completion just after posting it: wait until the pool is idle. */
    CHECK(cring_aio_pool_drain(pool, 30 * SECOND));
    cring_aio_stats stats;
    CHECK(cring_aio_pool_get_stats(pool, &stats, sizeof stats));
    ASSERT(stats.completed == completions && stats.outstanding == 0);
    CHECK(cring_aio_pool_destroy(pool));
    CHECK(cring_aio_target_close(target));
    CHECK(cring_consumer_close(consumer));
    CHECK(cring_ring_close(ring));
    printf("copied %llu bytes, depth %u, most reads in flight %u, completions %llu\n",
           (unsigned long long)copied, depth, most_reading, (unsigned long long)completions);
    return 0;
}
