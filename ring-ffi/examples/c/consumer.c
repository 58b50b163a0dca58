/*
 * consumer: takes completions from a ring that another process created under /dev/shm, and
 * checks every one of them.
 *
 *     consumer NAME COUNT
 *
 * Attaches to the completion ring /dev/shm/NAME and expects the entries 0..COUNT-1 (see
 * example_entry() in example.h), in order:
 *
 * 1. Sleep: prints "ready", then reaps at least 4 entries with a long timeout before the
 *    producer has pushed anything, so it sleeps on the ring's futex until the producer's first
 *    batch wakes it. Checks the entries, and that the ring counted a sleep and a wake-up;
 *    prints "woken 4".
 * 2. Overflow: prints "paused" and waits for a line on standard input while the producer
 *    fills the ring and its overflow area; checks the overflow counters, then goes on.
 * 3. Stream: takes the remaining entries with a rotating mix of reap (a minimum and a
 *    timeout), pop, batch pop, and in-place views, waiting whenever the ring is empty.
 *
 * Prints "done COUNT" with the ring's counters and exits 0; any wrong entry or unexpected
 * status exits 1.
 */
#include "example.h"

#define BATCH 64
#define SECOND (1000LL * 1000 * 1000)

static uint64_t next_seq; /* the sequence number of the next entry expected */

static void take(const cring_completion *c)
{
    example_check(c, next_seq);
    next_seq++;
}

/* Waits (sleeping) until at least one entry is available, or a second passed. */
static void wait_some(cring_consumer c)
{
    uint32_t available = 0;
    cring_status s = cring_consumer_wait(c, 1, SECOND, &available);
    if (s != CRING_STATUS_OK && s != CRING_STATUS_TIMED_OUT)
        example_fail(__FILE__, __LINE__, "cring_consumer_wait", s, CRING_STATUS_OK);
}

/* One round of phase 3 with operation `op`; `want` is at least 1 and at most BATCH. */
static void round_of(cring_consumer c, unsigned op, size_t want)
{
    cring_completion buf[BATCH];
    size_t n = 0;
    cring_status s;
    switch (op % 4) {
    case 0: /* reap: at least `want` (or the timeout), at most BATCH */
        s = cring_consumer_reap(c, buf, BATCH, sizeof buf[0], want, 5 * SECOND, &n);
        if (s != CRING_STATUS_OK && s != CRING_STATUS_TIMED_OUT)
            example_fail(__FILE__, __LINE__, "cring_consumer_reap", s, CRING_STATUS_OK);
        ASSERT(s == CRING_STATUS_TIMED_OUT || n >= want);
        for (size_t i = 0; i < n; i++)
            take(&buf[i]);
        break;
    case 1: /* pop one */
        s = cring_consumer_pop(c, &buf[0], sizeof buf[0]);
        if (s == CRING_STATUS_EMPTY) {
            wait_some(c);
            break;
        }
        if (s != CRING_STATUS_OK)
            example_fail(__FILE__, __LINE__, "cring_consumer_pop", s, CRING_STATUS_OK);
        take(&buf[0]);
        break;
    case 2: /* batch pop, never waiting */
        CHECK(cring_consumer_pop_into(c, buf, want, sizeof buf[0], &n));
        if (n == 0)
            wait_some(c);
        for (size_t i = 0; i < n; i++)
            take(&buf[i]);
        break;
    default: { /* read in place, then release */
        const void *entries[BATCH];
        s = cring_consumer_view(c, want, sizeof(cring_completion), entries, &n);
        if (s == CRING_STATUS_EMPTY) {
            wait_some(c);
            break;
        }
        if (s != CRING_STATUS_OK)
            example_fail(__FILE__, __LINE__, "cring_consumer_view", s, CRING_STATUS_OK);
        ASSERT(n >= 1 && n <= want);
        for (size_t i = 0; i < n; i++)
            take((const cring_completion *)entries[i]);
        /* While the view is open the consumer does nothing else. */
        EXPECT(cring_consumer_pop(c, &buf[0], sizeof buf[0]), CRING_STATUS_WRONG_STATE);
        CHECK(cring_consumer_release(c));
        break;
    }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s NAME COUNT\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    uint64_t count = example_number(argv[2]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(240); /* never outlive a stuck peer (valgrind runs are slow) */

    cring_entry_type completion = cring_entry_completion();
    cring_ring ring;
    CHECK(cring_ring_open_shm(name, &completion, CRING_MODE_ANY, &ring));
    cring_ring_info info;
    CHECK(cring_ring_get_info(ring, &info, sizeof info));
    ASSERT(info.wait == 1 && info.overflow_capacity > 0);
    ASSERT(count >= 4 + (uint64_t)info.capacity + info.overflow_capacity);

    cring_consumer c;
    CHECK(cring_consumer_open(ring, &c));
    /* The single-consumer side is claimed: a second consumer is refused. */
    cring_consumer second;
    EXPECT(cring_consumer_open(ring, &second), CRING_STATUS_BUSY);
    ASSERT(second.id == 0);

    /* 1. Sleep until the producer's first batch arrives. */
    cring_counters before;
    CHECK(cring_ring_get_counters(ring, &before, sizeof before));
    printf("ready\n");
    cring_completion buf[BATCH];
    size_t n = 0;
    CHECK(cring_consumer_reap(c, buf, BATCH, sizeof buf[0], 4, 60 * SECOND, &n));
    ASSERT(n == 4);
    for (size_t i = 0; i < n; i++)
        take(&buf[i]);
    cring_counters ctr;
    CHECK(cring_ring_get_counters(ring, &ctr, sizeof ctr));
    ASSERT(ctr.sleeps > before.sleeps);
    ASSERT(ctr.wakeups > before.wakeups);
    printf("woken %zu\n", n);

    /* 2. Let the producer fill the ring and the overflow area. */
    printf("paused\n");
    char line[64];
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "standard input closed\n");
        return 1;
    }
    CHECK(cring_ring_get_counters(ring, &ctr, sizeof ctr));
    ASSERT(ctr.overflowed >= info.overflow_capacity);
    ASSERT(ctr.overflow_pending == info.overflow_capacity);
    ASSERT(ctr.full_refusals >= 1);
    /* Entries exist beyond our position: a wait for them returns at once. */
    uint32_t position = 0, available = 0;
    CHECK(cring_consumer_position(c, &position));
    CHECK(cring_consumer_wait_beyond(c, position, 1, SECOND, &available));
    ASSERT(available >= 1);

    /* 3. Take everything, checking each entry. */
    unsigned op = 0;
    while (next_seq < count) {
        uint64_t left = count - next_seq;
        size_t want = 1 + (op * 5u) % BATCH;
        if (want > left)
            want = (size_t)left;
        round_of(c, op++, want);
    }

    /* Nothing more arrives: a reap with a minimum times out, keeping what it has (nothing). */
    EXPECT(cring_consumer_reap(c, buf, BATCH, sizeof buf[0], 1, SECOND / 100, &n),
           CRING_STATUS_TIMED_OUT);
    ASSERT(n == 0);

    CHECK(cring_ring_get_counters(ring, &ctr, sizeof ctr));
    CHECK(cring_consumer_close(c));
    CHECK(cring_ring_close(ring));
    EXPECT(cring_consumer_pop(c, &buf[0], sizeof buf[0]), CRING_STATUS_BAD_HANDLE);
    printf("done %llu sleeps %llu wakeups %llu overflowed %llu\n", (unsigned long long)next_seq,
           (unsigned long long)ctr.sleeps, (unsigned long long)ctr.wakeups,
           (unsigned long long)ctr.overflowed);
    return 0;
}
