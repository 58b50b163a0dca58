/*
 * errors: bad input gets an error code, never a crash.
 *
 *     errors
 *
 * Calls the library the wrong way on purpose (NULL pointers, wrong sizes and alignments,
 * handles used after close, regions that are not rings, rings of another entry type, calls
 * out of order) and checks the status of each; also walks the zero-copy paths, opaque
 * entries, caller memory, the eventfd and an aio pool's cancel outcomes once each. Run under AddressSanitizer and valgrind by
 * the tests: none of it may touch memory it should not. Prints "errors: ok" and exits 0.
 */
#include "example.h"

#include <errno.h>
#include <poll.h>
#include <stdalign.h>

#define SECOND (1000LL * 1000 * 1000)

static void statuses(void)
{
    /* Every code has a message and a name; unknown codes too. */
    for (uint32_t code = 0; code <= CRING_STATUS_PANIC; code++) {
        ASSERT(cring_status_message(code) != NULL && strlen(cring_status_message(code)) > 0);
        ASSERT(strncmp(cring_status_name(code), "CRING_STATUS_", 13) == 0);
    }
    ASSERT(strcmp(cring_status_name(CRING_STATUS_FULL), "CRING_STATUS_FULL") == 0);
    ASSERT(strcmp(cring_status_message(999), "unknown status code") == 0);
    ASSERT(strcmp(cring_status_name(0xFFFFFFFFu), "CRING_STATUS_UNKNOWN") == 0);
    ASSERT(strcmp(cring_version(), "0.1.0") == 0 || cring_version()[0] != '\0');
    ASSERT(cring_version_number() == CRING_VERSION_NUMBER);
}

static void configs(void)
{
    cring_config cfg = cring_config_init(8);
    uint64_t len = 0;
    CHECK(cring_config_region_len(&cfg, &len));
    ASSERT(len > CRING_HEADER_LEN && len % CRING_REGION_ALIGN == 0);
    EXPECT(cring_config_region_len(NULL, &len), CRING_STATUS_NULL_POINTER);
    EXPECT(cring_config_region_len(&cfg, NULL), CRING_STATUS_NULL_POINTER);

    cring_config bad = cfg;
    bad.struct_size = 4; /* a config from another version, or never initialised */
    EXPECT(cring_config_region_len(&bad, &len), CRING_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.capacity = 3;
    EXPECT(cring_config_region_len(&bad, &len), CRING_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.overflow_capacity = 5;
    EXPECT(cring_config_region_len(&bad, &len), CRING_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.mode = 7;
    EXPECT(cring_config_region_len(&bad, &len), CRING_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.entry.size = 8; /* a completion is 16 bytes */
    EXPECT(cring_config_region_len(&bad, &len), CRING_STATUS_ENTRY_MISMATCH);
    bad = cfg;
    bad.entry = cring_entry_opaque(12, 8); /* size not a multiple of the alignment */
    EXPECT(cring_config_region_len(&bad, &len), CRING_STATUS_UNSUPPORTED_ENTRY);
    bad.entry = cring_entry_opaque(128, 8); /* too large */
    EXPECT(cring_config_region_len(&bad, &len), CRING_STATUS_UNSUPPORTED_ENTRY);
    bad.entry = cring_entry_opaque(16, 8);
    bad.entry.format = 42;
    EXPECT(cring_config_region_len(&bad, &len), CRING_STATUS_UNSUPPORTED_ENTRY);

    cring_ring ring = {12345};
    EXPECT(cring_ring_create_heap(&bad, &ring), CRING_STATUS_UNSUPPORTED_ENTRY);
    ASSERT(ring.id == 0); /* failed opens write the invalid handle */
    EXPECT(cring_ring_create_heap(&cfg, NULL), CRING_STATUS_NULL_POINTER);

    /* The last error says more than the status. */
    char msg[256];
    size_t full = cring_last_error_message(msg, sizeof msg);
    ASSERT(full > 0 && strlen(msg) == full);
    char tiny[4];
    ASSERT(cring_last_error_message(tiny, sizeof tiny) == full && strlen(tiny) == 3);
    ASSERT(cring_last_error_message(NULL, 0) == full);
}

static void handles(void)
{
    cring_config cfg = cring_config_init(8);
    cring_ring ring;
    CHECK(cring_ring_create_heap(&cfg, &ring));
    cring_producer p;
    cring_consumer c;
    CHECK(cring_producer_open(ring, &p));
    CHECK(cring_consumer_open(ring, &c));

    cring_completion e = example_entry(1), out;
    CHECK(cring_producer_push(p, &e, sizeof e));

    /* Handles that were never opened. */
    cring_ring zero_ring = {0};
    cring_producer made_up = {0x123456789abcdefULL};
    cring_consumer all_ones = {UINT64_MAX};
    cring_counters ctr;
    EXPECT(cring_ring_get_counters(zero_ring, &ctr, sizeof ctr), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_producer_push(made_up, &e, sizeof e), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_consumer_pop(all_ones, &out, sizeof out), CRING_STATUS_BAD_HANDLE);

    /* A handle of one kind passed as another (the ids carry their kind). */
    cring_consumer p_as_c = {p.id};
    cring_ring p_as_ring = {p.id};
    cring_region ring_as_region = {ring.id};
    EXPECT(cring_consumer_pop(p_as_c, &out, sizeof out), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_ring_wake_all(p_as_ring), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_region_close(ring_as_region), CRING_STATUS_BAD_HANDLE);

    /* Wrong sizes and alignments. */
    EXPECT(cring_producer_push(p, &e, sizeof e - 1), CRING_STATUS_ENTRY_MISMATCH);
    EXPECT(cring_consumer_pop(c, &out, sizeof out + 8), CRING_STATUS_ENTRY_MISMATCH);
    alignas(16) unsigned char bytes[64];
    memcpy(bytes + 4, &e, sizeof e);
    EXPECT(cring_producer_push(p, bytes + 4, sizeof e), CRING_STATUS_MISALIGNED);
    EXPECT(cring_consumer_pop(c, bytes + 4, sizeof out), CRING_STATUS_MISALIGNED);
    EXPECT(cring_ring_get_counters(ring, &ctr, sizeof ctr - 8), CRING_STATUS_INVALID_ARGUMENT);
    cring_ring_info info;
    EXPECT(cring_ring_get_info(ring, &info, 0), CRING_STATUS_INVALID_ARGUMENT);
    EXPECT(cring_ring_get_info(ring, NULL, sizeof info), CRING_STATUS_NULL_POINTER);
    size_t n = 7;
    EXPECT(cring_consumer_pop_into(c, NULL, 4, sizeof out, &n), CRING_STATUS_NULL_POINTER);
    ASSERT(n == 0);
    EXPECT(cring_consumer_pop_into(c, &out, 1, sizeof out, NULL), CRING_STATUS_NULL_POINTER);
    cring_completion big[9];
    for (size_t i = 0; i < 9; i++)
        big[i] = example_entry(100 + i);
    EXPECT(cring_producer_push_all(p, big, 9, sizeof big[0]), CRING_STATUS_TOO_LARGE);
    CHECK(cring_producer_push_all(p, NULL, 0, sizeof big[0])); /* an empty batch */

    /* The single-producer side is claimed. */
    cring_producer p2;
    EXPECT(cring_producer_open(ring, &p2), CRING_STATUS_BUSY);
    ASSERT(p2.id == 0);

    /* Still intact after all that. */
    CHECK(cring_consumer_pop(c, &out, sizeof out));
    example_check(&out, 1);
    EXPECT(cring_consumer_pop(c, &out, sizeof out), CRING_STATUS_EMPTY);

    /* Closing the ring first is fine: producers and consumers keep it alive. */
    CHECK(cring_ring_close(ring));
    EXPECT(cring_ring_close(ring), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_ring_wake_all(ring), CRING_STATUS_BAD_HANDLE);
    CHECK(cring_producer_push(p, &e, sizeof e));
    CHECK(cring_consumer_pop(c, &out, sizeof out));

    /* Use after close, and double close. */
    CHECK(cring_producer_close(p));
    CHECK(cring_consumer_close(c));
    EXPECT(cring_producer_push(p, &e, sizeof e), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_producer_reserve_exact(p, 1, sizeof e), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_consumer_pop(c, &out, sizeof out), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_consumer_reap(c, &out, 1, sizeof out, 1, SECOND, &n), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_producer_close(p), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_consumer_close(c), CRING_STATUS_BAD_HANDLE);

    /* A new handle never revives an old id. */
    CHECK(cring_ring_create_heap(&cfg, &ring));
    cring_producer p3;
    CHECK(cring_producer_open(ring, &p3));
    ASSERT(p3.id != p.id);
    EXPECT(cring_producer_push(p, &e, sizeof e), CRING_STATUS_BAD_HANDLE);
    CHECK(cring_producer_close(p3));
    CHECK(cring_ring_close(ring));
}

static void regions(void)
{
    cring_config cfg = cring_config_init(16);
    uint64_t need = 0;
    CHECK(cring_config_region_len(&cfg, &need));

    /* Zeroed memory is not a ring. */
    cring_region heap;
    CHECK(cring_region_heap((size_t)need, &heap));
    cring_entry_type completion = cring_entry_completion();
    cring_ring ring = {99};
    EXPECT(cring_ring_attach(heap, &completion, CRING_MODE_ANY, &ring), CRING_STATUS_NOT_A_RING);
    ASSERT(ring.id == 0);
    EXPECT(cring_ring_attach(heap, NULL, CRING_MODE_ANY, &ring), CRING_STATUS_NULL_POINTER);

    /* Too short for the configuration. */
    cfg.capacity = 1024;
    EXPECT(cring_ring_create(heap, &cfg, &ring), CRING_STATUS_REGION_TOO_SHORT);
    cfg.capacity = 16;
    CHECK(cring_ring_create(heap, &cfg, &ring));

    /* A ring of completions attached as another entry type or mode. */
    cring_entry_type opaque16 = cring_entry_opaque(16, 8);
    cring_entry_type opaque8 = cring_entry_opaque(8, 8);
    cring_ring other;
    EXPECT(cring_ring_attach(heap, &opaque16, CRING_MODE_ANY, &other),
           CRING_STATUS_ENTRY_MISMATCH);
    EXPECT(cring_ring_attach(heap, &opaque8, CRING_MODE_ANY, &other), CRING_STATUS_ENTRY_MISMATCH);
    EXPECT(cring_ring_attach(heap, &completion, CRING_MODE_MPMC, &other),
           CRING_STATUS_MODE_MISMATCH);
    EXPECT(cring_ring_attach(heap, &completion, 12, &other), CRING_STATUS_INVALID_ARGUMENT);
    CHECK(cring_ring_attach(heap, &completion, CRING_MODE_SPSC, &other));
    CHECK(cring_ring_close(other));

    /* A corrupted header is refused on attach, never trusted. */
    void *base = NULL;
    CHECK(cring_region_base(heap, &base));
    unsigned char saved[CRING_HEADER_LEN];
    memcpy(saved, base, sizeof saved);
    ((unsigned char *)base)[48] = 3; /* capacity: not a power of two */
    EXPECT(cring_ring_attach(heap, &completion, CRING_MODE_ANY, &other), CRING_STATUS_LAYOUT);
    memcpy(base, saved, sizeof saved);
    ((unsigned char *)base)[8] = 9; /* layout major version */
    EXPECT(cring_ring_attach(heap, &completion, CRING_MODE_ANY, &other), CRING_STATUS_VERSION);
    memcpy(base, saved, sizeof saved);
    CHECK(cring_ring_close(ring));

    /* The region outlives its handle while a ring uses it, and vice versa. */
    CHECK(cring_ring_create(heap, &cfg, &ring));
    CHECK(cring_region_close(heap));
    EXPECT(cring_region_close(heap), CRING_STATUS_BAD_HANDLE);
    size_t len = 0;
    EXPECT(cring_region_len(heap, &len), CRING_STATUS_BAD_HANDLE);
    cring_region again;
    CHECK(cring_ring_region(ring, &again));
    CHECK(cring_region_len(again, &len));
    ASSERT(len == need);
    int fd = 0;
    CHECK(cring_region_fd(again, &fd));
    ASSERT(fd == -1);
    CHECK(cring_region_close(again));
    CHECK(cring_ring_close(ring));

    /* Caller memory: must be 128-byte aligned. */
    static alignas(128) unsigned char memory[1 << 14];
    cring_region mine;
    CHECK(cring_region_from_memory(memory + 64, sizeof memory - 64, &mine));
    EXPECT(cring_ring_create(mine, &cfg, &ring), CRING_STATUS_MISALIGNED);
    CHECK(cring_region_close(mine));
    EXPECT(cring_region_from_memory(NULL, 64, &mine), CRING_STATUS_NULL_POINTER);
    CHECK(cring_region_from_memory(memory, sizeof memory, &mine));
    CHECK(cring_ring_create(mine, &cfg, &ring));
    CHECK(cring_region_close(mine));
    ASSERT(memcmp(memory, "CRINGv1", 8) == 0);
    CHECK(cring_ring_close(ring));

    /* Names. */
    EXPECT(cring_region_shm_open("no/such", &mine), CRING_STATUS_INVALID_NAME);
    EXPECT(cring_region_shm_open("", &mine), CRING_STATUS_INVALID_NAME);
    EXPECT(cring_region_shm_open(NULL, &mine), CRING_STATUS_NULL_POINTER);
    EXPECT(cring_region_shm_open("cring-errors-does-not-exist", &mine), CRING_STATUS_IO);
    ASSERT(cring_last_os_error() == 2 /* ENOENT */);
    EXPECT(cring_region_from_fd(-1, &mine), CRING_STATUS_INVALID_ARGUMENT);
    EXPECT(cring_region_huge(4096, 12345, 0, &mine), CRING_STATUS_INVALID_ARGUMENT);
    EXPECT(cring_region_huge(4096, CRING_HUGE_PAGE_2M, 0x10, &mine),
           CRING_STATUS_INVALID_ARGUMENT);
    /* With the fallback flag a huge-page region always works. */
    CHECK(cring_region_huge(4096, CRING_HUGE_PAGE_2M, CRING_HUGE_FALLBACK, &mine));
    CHECK(cring_region_close(mine));

    /* memfd: a second mapping through the descriptor sees the same ring. */
    cring_region mfd;
    CHECK(cring_region_memfd("cring-errors", (size_t)need, &mfd));
    CHECK(cring_ring_create(mfd, &cfg, &ring));
    CHECK(cring_region_fd(mfd, &fd));
    ASSERT(fd >= 0);
    cring_region mapped;
    CHECK(cring_region_from_fd(fd, &mapped));
    CHECK(cring_ring_attach(mapped, &completion, CRING_MODE_SPSC, &other));
    cring_producer p;
    cring_consumer c;
    CHECK(cring_producer_open(ring, &p));
    CHECK(cring_consumer_open(other, &c));
    cring_completion e = example_entry(7), out;
    CHECK(cring_producer_push(p, &e, sizeof e));
    CHECK(cring_consumer_pop(c, &out, sizeof out));
    example_check(&out, 7);
    CHECK(cring_producer_close(p));
    CHECK(cring_consumer_close(c));
    CHECK(cring_ring_close(other));
    CHECK(cring_ring_close(ring));
    CHECK(cring_region_close(mapped));
    CHECK(cring_region_close(mfd));
}

static void zero_copy(void)
{
    cring_config cfg = cring_config_init(8);
    cring_ring ring;
    CHECK(cring_ring_create_heap(&cfg, &ring));
    cring_producer p;
    cring_consumer c;
    CHECK(cring_producer_open(ring, &p));
    CHECK(cring_consumer_open(ring, &c));
    size_t n = 0;
    void *slot = NULL;

    /* Out of order and out of state. */
    EXPECT(cring_producer_commit(p, NULL), CRING_STATUS_WRONG_STATE);
    EXPECT(cring_producer_abort(p), CRING_STATUS_WRONG_STATE);
    EXPECT(cring_producer_entry(p, 0, &slot), CRING_STATUS_WRONG_STATE);
    EXPECT(cring_producer_reserve(p, 4, 8, &n), CRING_STATUS_ENTRY_MISMATCH);
    CHECK(cring_producer_reserve(p, 4, sizeof(cring_completion), &n));
    ASSERT(n == 4);
    EXPECT(cring_producer_reserve(p, 1, sizeof(cring_completion), &n), CRING_STATUS_WRONG_STATE);
    cring_completion e = example_entry(0), out;
    EXPECT(cring_producer_push(p, &e, sizeof e), CRING_STATUS_WRONG_STATE);
    EXPECT(cring_producer_entry(p, 1, &slot), CRING_STATUS_INVALID_ARGUMENT); /* skips 0 */
    EXPECT(cring_producer_entry(p, 4, &slot), CRING_STATUS_INVALID_ARGUMENT); /* outside */
    EXPECT(cring_producer_entry(p, 0, NULL), CRING_STATUS_NULL_POINTER);
    for (size_t i = 0; i < 3; i++) {
        CHECK(cring_producer_entry(p, i, &slot));
        cring_completion v = example_entry(i);
        memcpy(slot, &v, sizeof v);
    }
    size_t published = 0;
    CHECK(cring_producer_commit(p, &published));
    ASSERT(published == 3); /* the fourth slot was never taken */

    /* An abandoned reservation publishes nothing. */
    CHECK(cring_producer_reserve_exact(p, 2, sizeof(cring_completion)));
    CHECK(cring_producer_entry(p, 0, &slot));
    CHECK(cring_producer_abort(p));
    EXPECT(cring_producer_reserve_exact(p, 9, sizeof(cring_completion)), CRING_STATUS_TOO_LARGE);

    /* Views. */
    const void *entries[8];
    EXPECT(cring_consumer_release(c), CRING_STATUS_WRONG_STATE);
    EXPECT(cring_consumer_view(c, 0, sizeof out, entries, &n), CRING_STATUS_INVALID_ARGUMENT);
    EXPECT(cring_consumer_view(c, 8, sizeof out, NULL, &n), CRING_STATUS_NULL_POINTER);
    CHECK(cring_consumer_view(c, 8, sizeof out, entries, &n));
    ASSERT(n == 3);
    for (size_t i = 0; i < n; i++)
        example_check((const cring_completion *)entries[i], i);
    EXPECT(cring_consumer_view(c, 8, sizeof out, entries, &n), CRING_STATUS_WRONG_STATE);
    EXPECT(cring_consumer_reap(c, &out, 1, sizeof out, 0, 0, &n), CRING_STATUS_WRONG_STATE);
    CHECK(cring_consumer_release(c));
    EXPECT(cring_consumer_view(c, 8, sizeof out, entries, &n), CRING_STATUS_EMPTY);
    EXPECT(cring_consumer_pop(c, &out, sizeof out), CRING_STATUS_EMPTY);

    /* Giving a producer up with a reservation open (released: the stream stays open, so
       another producer may claim the side), and closing a consumer with a view open. */
    CHECK(cring_producer_reserve(p, 2, sizeof(cring_completion), &n));
    CHECK(cring_producer_release(p));
    CHECK(cring_producer_open(ring, &p));
    CHECK(cring_producer_push(p, &e, sizeof e));
    CHECK(cring_consumer_view(c, 8, sizeof out, entries, &n));
    ASSERT(n == 1);
    CHECK(cring_consumer_close(c));
    CHECK(cring_consumer_open(ring, &c));
    EXPECT(cring_consumer_pop(c, &out, sizeof out), CRING_STATUS_EMPTY);

    /* End of stream: what was pushed before the close is delivered, then CLOSED everywhere. */
    CHECK(cring_producer_push(p, &e, sizeof e));
    CHECK(cring_producer_close_stream(p));
    EXPECT(cring_producer_open(ring, &p), CRING_STATUS_CLOSED);
    CHECK(cring_consumer_pop(c, &out, sizeof out));
    EXPECT(cring_consumer_pop(c, &out, sizeof out), CRING_STATUS_CLOSED);
    EXPECT(cring_consumer_pop_into(c, &out, 1, sizeof out, &n), CRING_STATUS_CLOSED);
    EXPECT(cring_consumer_view(c, 8, sizeof out, entries, &n), CRING_STATUS_CLOSED);
    n = 9;
    EXPECT(cring_consumer_reap(c, &out, 1, sizeof out, 1, SECOND, &n), CRING_STATUS_CLOSED);
    ASSERT(n == 0);
    uint32_t avail = 9;
    EXPECT(cring_consumer_wait(c, 1, SECOND, &avail), CRING_STATUS_CLOSED);
    ASSERT(avail == 0);
    CHECK(cring_consumer_close(c));
    CHECK(cring_ring_close(ring));
}

/* A caller-defined entry: 24 bytes, alignment 8. */
typedef struct {
    uint64_t id;
    uint32_t channel;
    uint32_t value;
    double when;
} sample;

static void opaque(void)
{
    cring_config cfg = cring_config_init(4);
    cfg.entry = cring_entry_opaque(sizeof(sample), _Alignof(sample));
    cfg.mode = CRING_MODE_MPMC;
    cfg.overflow_capacity = 4;
    cring_ring ring;
    CHECK(cring_ring_create_heap(&cfg, &ring));
    cring_ring_info info;
    CHECK(cring_ring_get_info(ring, &info, sizeof info));
    ASSERT(info.entry_format == CRING_ENTRY_FORMAT_OPAQUE && info.entry_size == 24);
    ASSERT(info.mode == CRING_MODE_MPMC && info.overflow_capacity == 4);
    cring_producer p1, p2;
    cring_consumer c;
    CHECK(cring_producer_open(ring, &p1));
    CHECK(cring_producer_open(ring, &p2)); /* several producers in MPMC mode */
    CHECK(cring_consumer_open(ring, &c));
    sample s[8];
    for (int i = 0; i < 8; i++) {
        s[i].id = (uint64_t)i;
        s[i].channel = (uint32_t)i * 3;
        s[i].value = 1000u + (uint32_t)i;
        s[i].when = i * 0.5;
    }
    CHECK(cring_producer_push_all(p1, s, 3, sizeof s[0]));
    for (int i = 3; i < 8; i++)
        CHECK(cring_producer_push(p2, &s[i], sizeof s[i])); /* 1 in the ring, 4 spill over */
    EXPECT(cring_producer_push(p1, &s[0], sizeof s[0]), CRING_STATUS_FULL);
    size_t pushed = 9;
    CHECK(cring_producer_push_some(p1, s, 2, sizeof s[0], &pushed));
    ASSERT(pushed == 0);
    cring_completion wrong = example_entry(0);
    EXPECT(cring_producer_push(p1, &wrong, sizeof wrong), CRING_STATUS_ENTRY_MISMATCH);
    sample got[8];
    size_t n = 0;
    CHECK(cring_consumer_reap(c, got, 8, sizeof got[0], 8, SECOND, &n));
    ASSERT(n == 8);
    for (int i = 0; i < 8; i++)
        ASSERT(memcmp(&got[i], &s[i], sizeof s[i]) == 0);
    cring_counters ctr;
    CHECK(cring_ring_get_counters(ring, &ctr, sizeof ctr));
    ASSERT(ctr.overflowed == 4 && ctr.full_refusals >= 1);
    CHECK(cring_producer_close(p1));
    CHECK(cring_producer_close(p2));
    CHECK(cring_consumer_close(c));
    CHECK(cring_ring_close(ring));
}

static void waiting(void)
{
    cring_config cfg = cring_config_init(8);
    cfg.wait = 0;
    cring_ring ring;
    CHECK(cring_ring_create_heap(&cfg, &ring));
    cring_consumer c;
    CHECK(cring_consumer_open(ring, &c));
    cring_completion out[2];
    size_t n = 5;
    EXPECT(cring_consumer_reap(c, out, 2, sizeof out[0], 1, SECOND, &n), CRING_STATUS_NO_WAIT_BLOCK);
    ASSERT(n == 0);
    CHECK(cring_consumer_reap(c, out, 2, sizeof out[0], 0, SECOND, &n)); /* min 0: no sleep */
    int fd = 0;
    EXPECT(cring_ring_create_eventfd(ring, &fd), CRING_STATUS_NO_WAIT_BLOCK);
    EXPECT(cring_ring_set_wakeups_suppressed(ring, 1), CRING_STATUS_NO_WAIT_BLOCK);
    CHECK(cring_consumer_close(c));
    CHECK(cring_ring_close(ring));

    /* With the wait block: timeouts, suppression, and the eventfd. */
    cfg.wait = 1;
    CHECK(cring_ring_create_heap(&cfg, &ring));
    CHECK(cring_consumer_open(ring, &c));
    cring_producer p;
    CHECK(cring_producer_open(ring, &p));
    uint32_t available = 9;
    EXPECT(cring_consumer_wait(c, 1, SECOND / 100, &available), CRING_STATUS_TIMED_OUT);
    ASSERT(available == 0);
    CHECK(cring_ring_set_wakeups_suppressed(ring, 1));
    EXPECT(cring_consumer_wait(c, 1, SECOND, NULL), CRING_STATUS_WAKEUPS_SUPPRESSED);
    CHECK(cring_ring_set_wakeups_suppressed(ring, 0));

    int ready = 7;
    EXPECT(cring_consumer_eventfd_prepare(c, &ready), CRING_STATUS_WRONG_STATE); /* none yet */
    CHECK(cring_ring_eventfd(ring, &fd));
    ASSERT(fd == -1);
    CHECK(cring_ring_create_eventfd(ring, &fd));
    ASSERT(fd >= 0);
    EXPECT(cring_ring_create_eventfd(ring, &fd), CRING_STATUS_WRONG_STATE); /* one per ring */
    CHECK(cring_consumer_eventfd_prepare(c, &ready));
    ASSERT(ready == 0);
    cring_completion e = example_entry(3);
    CHECK(cring_producer_push(p, &e, sizeof e)); /* wakes: signals the eventfd */
    struct pollfd pfd = {fd, POLLIN, 0};
    ASSERT(poll(&pfd, 1, 5000) == 1 && (pfd.revents & POLLIN));
    CHECK(cring_consumer_eventfd_finish(c));
    CHECK(cring_consumer_pop(c, &out[0], sizeof out[0]));
    example_check(&out[0], 3);
    CHECK(cring_ring_wake_all(ring));

    CHECK(cring_producer_close(p));
    CHECK(cring_consumer_close(c));
    CHECK(cring_ring_close(ring));
}

/* Reaps one completion (waiting up to 10 s). */
static cring_completion reap_one(cring_consumer c)
{
    cring_completion e;
    size_t n = 0;
    CHECK(cring_consumer_reap(c, &e, 1, sizeof e, 1, 10 * SECOND, &n));
    ASSERT(n == 1);
    return e;
}

static void aio(void)
{
    /* Configurations. */
    cring_aio_pool pool = {7};
    EXPECT(cring_aio_pool_create(NULL, &pool), CRING_STATUS_NULL_POINTER);
    ASSERT(pool.id == 0);
    cring_aio_config pc = cring_aio_config_init();
    pc.max_workers = 0;
    EXPECT(cring_aio_pool_create(&pc, &pool), CRING_STATUS_INVALID_ARGUMENT);
    pc = cring_aio_config_init();
    pc.struct_size = 4;
    EXPECT(cring_aio_pool_create(&pc, &pool), CRING_STATUS_INVALID_ARGUMENT);
    pc = cring_aio_config_init();
    pc.backpressure = 9;
    EXPECT(cring_aio_pool_create(&pc, &pool), CRING_STATUS_INVALID_ARGUMENT);
    pc = cring_aio_config_init();
    pc.max_workers = 1;
    CHECK(cring_aio_pool_create(&pc, &pool));

    cring_config rc = cring_config_init(16);
    rc.mode = CRING_MODE_MPSC;
    cring_ring ring;
    cring_consumer c;
    cring_aio_target t;
    CHECK(cring_ring_create_heap(&rc, &ring));
    CHECK(cring_consumer_open(ring, &c));
    CHECK(cring_aio_target_open(ring, &t));

    /* Handles of the wrong kind. */
    cring_aio_target pool_as_target = {pool.id};
    cring_aio_pool target_as_pool = {t.id};
    EXPECT(cring_aio_target_close(pool_as_target), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_aio_pool_drain(target_as_pool, 0), CRING_STATUS_BAD_HANDLE);
    cring_aio_target none = {0};
    EXPECT(cring_aio_target_open(ring, NULL), CRING_STATUS_NULL_POINTER);

    /* Submissions: NULL pointers, sizes, unknown operations, bad targets. */
    cring_aio_sub s;
    memset(&s, 0, sizeof s);
    s.op = CRING_AIO_OP_READ;
    s.len = 8;
    s.target = t;
    uint64_t id = 5;
    EXPECT(cring_aio_submit(pool, &s, sizeof s, &id), CRING_STATUS_NULL_POINTER); /* buf */
    ASSERT(id == 0);
    EXPECT(cring_aio_submit(pool, NULL, sizeof s, &id), CRING_STATUS_NULL_POINTER);
    EXPECT(cring_aio_submit(pool, &s, sizeof s, NULL), CRING_STATUS_NULL_POINTER);
    EXPECT(cring_aio_submit(pool, &s, sizeof s - 1, &id), CRING_STATUS_INVALID_ARGUMENT);
    s.op = 1000;
    EXPECT(cring_aio_submit(pool, &s, sizeof s, &id), CRING_STATUS_INVALID_ARGUMENT);
    s.op = CRING_AIO_OP_NOP;
    s.target = none;
    EXPECT(cring_aio_submit(pool, &s, sizeof s, &id), CRING_STATUS_BAD_HANDLE);
    s.target = t;
    s.op = CRING_AIO_OP_CLOSE;
    s.fd = -1;
    EXPECT(cring_aio_submit(pool, &s, sizeof s, &id), CRING_STATUS_INVALID_ARGUMENT);
    size_t accepted = 9;
    EXPECT(cring_aio_submit_batch(pool, NULL, 1, sizeof s, NULL, &accepted),
           CRING_STATUS_NULL_POINTER);
    ASSERT(accepted == 0);

    /* Cancel outcomes: one worker blocks in a read of an empty pipe; the read queued behind it
     * is cancelled before it starts; the blocked one is cancelled while it runs. */
    int fds[2];
    ASSERT(pipe(fds) == 0);
    char b1[4] = {0}, b2[4] = {'k', 'e', 'e', 'p'};
    memset(&s, 0, sizeof s);
    s.op = CRING_AIO_OP_READ;
    s.fd = fds[0];
    s.target = t;
    s.len = sizeof b1;
    s.buf = b1;
    s.cookie = 1;
    uint64_t id1 = 0, id2 = 0;
    CHECK(cring_aio_submit(pool, &s, sizeof s, &id1));
    s.buf = b2;
    s.cookie = 2;
    CHECK(cring_aio_submit(pool, &s, sizeof s, &id2));
    ASSERT(id1 != 0 && id2 > id1);
    uint32_t outcome = 0;
    CHECK(cring_aio_cancel(pool, id2, &outcome));
    ASSERT(outcome == CRING_AIO_CANCEL_CANCELED);
    cring_completion e = reap_one(c);
    ASSERT(e.user_data == 2 && e.result == -ECANCELED);
    ASSERT((e.flags & (CRING_AIO_FLAG_CANCELED | CRING_AIO_FLAG_INTERRUPTED)) ==
           CRING_AIO_FLAG_CANCELED);
    ASSERT(memcmp(b2, "keep", 4) == 0);
    example_sleep_us(20000);
    CHECK(cring_aio_cancel(pool, id1, &outcome));
    ASSERT(outcome == CRING_AIO_CANCEL_INTERRUPTED || outcome == CRING_AIO_CANCEL_RUNNING ||
           outcome == CRING_AIO_CANCEL_CANCELED);
    e = reap_one(c);
    ASSERT(e.user_data == 1 && e.result == -ECANCELED);
    CHECK(cring_aio_cancel(pool, id1, &outcome));
    ASSERT(outcome == CRING_AIO_CANCEL_TOO_LATE);
    CHECK(cring_aio_cancel(pool, id2 + 1000, &outcome));
    ASSERT(outcome == CRING_AIO_CANCEL_UNKNOWN);
    EXPECT(cring_aio_cancel(pool, id1, NULL), CRING_STATUS_NULL_POINTER);
    close(fds[0]);
    close(fds[1]);

    cring_aio_stats st;
    EXPECT(cring_aio_pool_get_stats(pool, &st, sizeof st - 8), CRING_STATUS_INVALID_ARGUMENT);
    CHECK(cring_aio_pool_destroy(pool));
    EXPECT(cring_aio_pool_destroy(pool), CRING_STATUS_BAD_HANDLE);
    EXPECT(cring_aio_submit(pool, &s, sizeof s, &id), CRING_STATUS_BAD_HANDLE);
    CHECK(cring_aio_target_close(t));
    EXPECT(cring_aio_target_close(t), CRING_STATUS_BAD_HANDLE);
    CHECK(cring_consumer_close(c));
    CHECK(cring_ring_close(ring));
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(120);
    statuses();
    configs();
    handles();
    regions();
    zero_copy();
    opaque();
    waiting();
    aio();
    printf("errors: ok\n");
    return 0;
}
