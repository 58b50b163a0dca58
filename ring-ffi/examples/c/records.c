/*
 * Record rings from C: completion records with attributes, and plain data records, exchanged
 * with a Rust process over /dev/shm.
 *
 *   records consume NAME COUNT   reads COUNT records that a Rust producer writes
 *   records produce NAME COUNT   writes COUNT records that a Rust consumer reads
 *
 * Record `seq` is a completion record (example_record_completion(seq)) carrying a duration
 * (seq * 10 ns), an application attribute 0x9001 with the bytes "xyz" (which a reader that
 * does not know it skips), a failed worker CPU (errno 95) and, for even seq, a cache hit;
 * except that every fifth record (seq % 5 == 4) is a data record of seq % 50 bytes, each
 * (uint8_t)seq. The Rust side of the test builds and checks the same records.
 *
 * The consumer prints "ready" once attached, and "done COUNT" at the end; the producer prints
 * "done COUNT". Both give up (exit 1) after DEADLINE_S seconds.
 */
#include "example.h"

#define DEADLINE_S 60
#define APP_ATTR 0x9001

static cring_completion example_record_completion(uint64_t seq)
{
    cring_completion c;
    c.user_data = seq;
    c.result = (int32_t)(seq % 1000u) - 500;
    c.flags = 0xA7700000u | (uint32_t)(seq & 0xFFFFu);
    return c;
}

static int is_data(uint64_t seq) { return seq % 5 == 4; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------------------------ */
/* Checking what arrives */

/* Exits unless `data`/`len`/`type` is record `seq`. */
static void check_record(const void *data, size_t len, uint32_t type, uint64_t seq)
{
    if (is_data(seq)) {
        ASSERT(type == CRING_RECORD_TYPE_DATA);
        ASSERT(len == seq % 50);
        for (size_t i = 0; i < len; i++)
            ASSERT(((const uint8_t *)data)[i] == (uint8_t)seq);
        return;
    }
    ASSERT(type == CRING_RECORD_TYPE_COMPLETION);
    cring_completion c;
    cring_attr_iter it;
    CHECK(cring_attr_iter_init(data, len, &c, &it));
    cring_completion want = example_record_completion(seq);
    if (c.user_data != want.user_data || c.result != want.result || c.flags != want.flags) {
        fprintf(stderr, "record %llu: wrong completion (user_data %llu)\n",
                (unsigned long long)seq, (unsigned long long)c.user_data);
        exit(1);
    }
    int duration = 0, cpu = 0, cache = 0;
    cring_attr a;
    cring_status s;
    while ((s = cring_attr_next(&it, &a)) == CRING_STATUS_OK) {
        uint64_t v = 0;
        switch (a.id) {
        case CRING_ATTR_DURATION_NS:
            ASSERT(a.status == CRING_ATTR_STATUS_HANDLED);
            CHECK(cring_attr_value_u64(&a, &v));
            ASSERT(v == seq * 10);
            duration++;
            break;
        case CRING_ATTR_WORKER_CPU:
            ASSERT(a.status == CRING_ATTR_STATUS_FAILED);
            CHECK(cring_attr_value_u64(&a, &v));
            ASSERT(v == 95);
            cpu++;
            break;
        case CRING_ATTR_CACHE_HIT:
            ASSERT(a.status == CRING_ATTR_STATUS_HANDLED);
            CHECK(cring_attr_value_u64(&a, &v));
            ASSERT(v == 1);
            cache++;
            break;
        default:
            /* An id this reader does not know (the application's 0x9001): skipped. */
            ASSERT(a.id == APP_ATTR && a.len == 3 && memcmp(a.value, "xyz", 3) == 0);
            break;
        }
    }
    EXPECT(s, CRING_STATUS_EMPTY);
    ASSERT(duration == 1 && cpu == 1 && cache == (seq % 2 == 0));
}

struct reap_ctx {
    uint64_t next;
};

static void on_record(void *ctx, const void *data, size_t len, uint32_t type)
{
    struct reap_ctx *r = ctx;
    check_record(data, len, type, r->next);
    r->next++;
}

static int consume(const char *name, uint64_t count)
{
    cring_records ring;
    cring_record_consumer c;
    CHECK(cring_records_open_shm(name, &ring));
    CHECK(cring_record_consumer_open(ring, &c));
    /* The consumer keeps the ring's memory alive. */
    CHECK(cring_records_close(ring));
    printf("ready\n");
    fflush(stdout);

    struct reap_ctx r = { 0 };
    uint8_t small[8];
    uint8_t *buf = malloc(4096);
    ASSERT(buf != NULL);
    double deadline = now_s() + DEADLINE_S;
    for (uint64_t round = 0; r.next < count; round++) {
        if (now_s() > deadline) {
            fprintf(stderr, "consume: only %llu of %llu records arrived\n",
                    (unsigned long long)r.next, (unsigned long long)count);
            return 1;
        }
        if (round % 4 == 1) {
            /* In place, then released. */
            const void *data;
            size_t len;
            uint32_t type;
            cring_status s = cring_record_read(c, &data, &len, &type);
            if (s == CRING_STATUS_EMPTY) {
                example_sleep_us(20);
                continue;
            }
            CHECK(s);
            check_record(data, len, type, r.next++);
            CHECK(cring_record_release(c));
        } else if (round % 4 == 3) {
            /* Copied out: a buffer too small first leaves the record in place. */
            size_t len;
            uint32_t type;
            cring_status s = cring_record_pop_into(c, small, sizeof small, &len, &type);
            if (s == CRING_STATUS_TOO_LARGE) {
                ASSERT(len > sizeof small && len <= 4096);
                s = cring_record_pop_into(c, buf, 4096, &len, &type);
            }
            if (s == CRING_STATUS_EMPTY) {
                example_sleep_us(20);
                continue;
            }
            CHECK(s);
            check_record(len <= sizeof small ? (const void *)small : (const void *)buf, len,
                         type, r.next++);
        } else {
            /* io_getevents-style: at least one, up to 32, sleeping up to 100 ms. */
            size_t got = 0;
            cring_status s = cring_record_reap(c, 1, 32, SIZE_MAX, 100 * 1000 * 1000, on_record,
                                               &r, &got);
            if (s != CRING_STATUS_TIMED_OUT)
                CHECK(s);
        }
    }
    free(buf);
    /* Nothing more than `count` was written. */
    const void *data;
    size_t len;
    EXPECT(cring_record_read(c, &data, &len, NULL), CRING_STATUS_EMPTY);
    CHECK(cring_record_consumer_close(c));
    printf("done %llu\n", (unsigned long long)r.next);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Writing */

/* Tries to write record `seq`; CRING_STATUS_FULL when there is no room now. */
static cring_status write_record(cring_record_producer p, uint64_t seq)
{
    if (is_data(seq)) {
        size_t len = seq % 50;
        if (seq % 2) {
            uint8_t bytes[64];
            memset(bytes, (int)(uint8_t)seq, sizeof bytes);
            return cring_record_push(p, bytes, len);
        }
        void *data;
        cring_status s = cring_record_reserve(p, len, &data);
        if (s != CRING_STATUS_OK)
            return s;
        memset(data, (int)(uint8_t)seq, len);
        CHECK(cring_record_commit(p));
        return CRING_STATUS_OK;
    }
    cring_completion c = example_record_completion(seq);
    size_t room = cring_attr_size(8) + cring_attr_size(3) + cring_attr_size(4)
                  + cring_attr_size(1);
    cring_status s = cring_completion_record_begin(p, &c, room);
    if (s != CRING_STATUS_OK)
        return s;
    uint8_t v[8];
    uint64_t d = seq * 10;
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(d >> (8 * i));
    CHECK(cring_attr_push(p, CRING_ATTR_DURATION_NS, CRING_ATTR_STATUS_HANDLED, v, 8));
    CHECK(cring_attr_push(p, APP_ATTR, CRING_ATTR_STATUS_HANDLED, "xyz", 3));
    uint8_t e[4] = { 95, 0, 0, 0 };
    CHECK(cring_attr_push(p, CRING_ATTR_WORKER_CPU, CRING_ATTR_STATUS_FAILED, e, 4));
    if (seq % 2 == 0) {
        uint8_t hit = 1;
        CHECK(cring_attr_push(p, CRING_ATTR_CACHE_HIT, CRING_ATTR_STATUS_HANDLED, &hit, 1));
    }
    size_t len = 0;
    CHECK(cring_completion_record_finish(p, &len));
    ASSERT(len == CRING_COMPLETION_HEAD_LEN + room - (seq % 2 == 0 ? 0 : cring_attr_size(1)));
    return CRING_STATUS_OK;
}

static int produce(const char *name, uint64_t count)
{
    cring_records ring;
    cring_record_producer p;
    CHECK(cring_records_open_shm(name, &ring));
    CHECK(cring_record_producer_open(ring, &p));

    double deadline = now_s() + DEADLINE_S;
    uint64_t full = 0;
    for (uint64_t seq = 0; seq < count;) {
        cring_status s = write_record(p, seq);
        if (s == CRING_STATUS_OK) {
            seq++;
            continue;
        }
        EXPECT(s, CRING_STATUS_FULL);
        full++;
        if (now_s() > deadline) {
            fprintf(stderr, "produce: stuck at record %llu\n", (unsigned long long)seq);
            return 1;
        }
        example_sleep_us(50);
    }
    cring_records_counters k;
    CHECK(cring_records_get_counters(ring, &k, sizeof k));
    ASSERT(k.full_refusals > 0 || full == 0);
    CHECK(cring_record_producer_close(p));
    CHECK(cring_records_close(ring));
    printf("done %llu\n", (unsigned long long)count);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s consume|produce NAME COUNT\n", argv[0]);
        return 2;
    }
    uint64_t count = strtoull(argv[3], NULL, 10);
    if (strcmp(argv[1], "consume") == 0)
        return consume(argv[2], count);
    if (strcmp(argv[1], "produce") == 0)
        return produce(argv[2], count);
    fprintf(stderr, "unknown role %s\n", argv[1]);
    return 2;
}
