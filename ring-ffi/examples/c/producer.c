/*
 * producer: feeds completions into a ring that another process created under /dev/shm.
 *
 *     producer NAME COUNT
 *
 * Attaches to the completion ring /dev/shm/NAME (made by the consumer's side, in Rust or C)
 * and pushes the entries 0..COUNT-1 (see example_entry() in example.h) in order:
 *
 * 1. Burst: pushes one entry at a time, without waiting, until the ring and its overflow area
 *    are full (CRING_STATUS_FULL), and prints "burst N". The consumer does not read before it
 *    sees that line, so N must be the ring's capacity plus its overflow capacity: nothing is
 *    refused early, nothing is silently dropped.
 * 2. Stream: pushes the rest with a rotating mix of a blocking push, all-or-nothing batches,
 *    as-many-as-fit batches and zero-copy reservations, waiting whenever the ring is full.
 *
 * Prints "done COUNT" with the ring's counters and exits 0; any unexpected status exits 1 with
 * the library's message.
 */
#include "example.h"

#define BATCH 32

/* Pushes entries[0..n) (sequence numbers first..first+n), retrying while the ring is full. */
static void push_batch_all(cring_producer p, uint64_t first, size_t n)
{
    cring_completion batch[BATCH];
    for (size_t i = 0; i < n; i++)
        batch[i] = example_entry(first + i);
    for (;;) {
        cring_status s = cring_producer_push_all(p, batch, n, sizeof batch[0]);
        if (s == CRING_STATUS_OK)
            return;
        if (s != CRING_STATUS_FULL)
            example_fail(__FILE__, __LINE__, "cring_producer_push_all", s, CRING_STATUS_OK);
        example_sleep_us(50);
    }
}

/* Pushes as many of entries first..first+n as fit; returns how many. */
static size_t push_batch_some(cring_producer p, uint64_t first, size_t n)
{
    cring_completion batch[BATCH];
    size_t pushed = 0;
    for (size_t i = 0; i < n; i++)
        batch[i] = example_entry(first + i);
    CHECK(cring_producer_push_some(p, batch, n, sizeof batch[0], &pushed));
    return pushed;
}

/* Reserves up to n slots and fills them in place; returns how many were published. */
static size_t push_zero_copy(cring_producer p, uint64_t first, size_t n)
{
    size_t reserved = 0, published = 0;
    cring_status s = cring_producer_reserve(p, n, sizeof(cring_completion), &reserved);
    if (s == CRING_STATUS_FULL)
        return 0;
    if (s != CRING_STATUS_OK)
        example_fail(__FILE__, __LINE__, "cring_producer_reserve", s, CRING_STATUS_OK);
    ASSERT(reserved >= 1 && reserved <= n);
    for (size_t i = 0; i < reserved; i++) {
        void *slot = NULL;
        CHECK(cring_producer_entry(p, i, &slot));
        ASSERT(((uintptr_t)slot % _Alignof(cring_completion)) == 0);
        cring_completion c = example_entry(first + i);
        memcpy(slot, &c, sizeof c);
    }
    CHECK(cring_producer_commit(p, &published));
    ASSERT(published == reserved);
    return published;
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
    alarm(120); /* never outlive a stuck peer */

    if (cring_version_number() != CRING_VERSION_NUMBER) {
        fprintf(stderr, "header %u does not match library %u\n", CRING_VERSION_NUMBER,
                cring_version_number());
        return 1;
    }

    cring_entry_type completion = cring_entry_completion();
    cring_ring ring;
    CHECK(cring_ring_open_shm(name, &completion, CRING_MODE_ANY, &ring));
    cring_ring_info info;
    CHECK(cring_ring_get_info(ring, &info, sizeof info));
    ASSERT(info.entry_size == sizeof(cring_completion));
    uint64_t room = (uint64_t)info.capacity + info.overflow_capacity;
    ASSERT(count > room);

    cring_producer p;
    CHECK(cring_producer_open(ring, &p));

    /* A few things the library refuses without touching the ring. */
    cring_completion probe = example_entry(0);
    EXPECT(cring_producer_push(p, &probe, 8), CRING_STATUS_ENTRY_MISMATCH);
    EXPECT(cring_producer_push(p, NULL, sizeof probe), CRING_STATUS_NULL_POINTER);

    /* 1. Burst: fill the ring and the overflow area. */
    uint64_t seq = 0;
    for (;;) {
        cring_completion c = example_entry(seq);
        cring_status s = cring_producer_push(p, &c, sizeof c);
        if (s == CRING_STATUS_FULL)
            break;
        if (s != CRING_STATUS_OK)
            example_fail(__FILE__, __LINE__, "cring_producer_push", s, CRING_STATUS_OK);
        seq++;
    }
    ASSERT(seq == room);
    printf("burst %llu\n", (unsigned long long)seq);

    /* 2. Stream the rest. */
    unsigned round = 0;
    while (seq < count) {
        size_t n = (size_t)(count - seq < BATCH ? count - seq : BATCH);
        n = 1 + (round * 7u) % n;
        switch (round++ % 4) {
        case 0: {
            cring_completion c = example_entry(seq);
            CHECK(cring_producer_push_wait(p, &c, sizeof c, 30LL * 1000 * 1000 * 1000));
            seq += 1;
            break;
        }
        case 1:
            push_batch_all(p, seq, n);
            seq += n;
            break;
        case 2: {
            size_t k = push_batch_some(p, seq, n);
            if (k == 0)
                example_sleep_us(50);
            seq += k;
            break;
        }
        default: {
            size_t k = push_zero_copy(p, seq, n);
            if (k == 0)
                example_sleep_us(50);
            seq += k;
            break;
        }
        }
    }

    cring_counters ctr;
    CHECK(cring_ring_get_counters(ring, &ctr, sizeof ctr));
    /* End of stream: the consumer takes what is left and then gets CRING_STATUS_CLOSED.
       (cring_producer_close() would give the side up and leave the stream open.) */
    CHECK(cring_producer_close_stream(p));
    CHECK(cring_ring_close(ring));
    /* A closed handle is refused, never undefined behaviour. */
    EXPECT(cring_producer_push(p, &probe, sizeof probe), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_producer_close(p), CRING_STATUS_BAD_HANDLE);

    printf("done %llu full_refusals %llu overflowed %llu\n", (unsigned long long)seq,
           (unsigned long long)ctr.full_refusals, (unsigned long long)ctr.overflowed);
    return 0;
}
