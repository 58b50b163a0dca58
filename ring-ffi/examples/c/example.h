/*
 * Helpers shared by the C examples: checking statuses, and the entries the examples exchange.
 */
#ifndef CRING_EXAMPLE_H
#define CRING_EXAMPLE_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cring.h"

/* Prints a failed call with the library's description of it and exits. */
static inline void example_fail(const char *file, int line, const char *call, cring_status got,
                         cring_status want)
{
    char detail[256];
    cring_last_error_message(detail, sizeof detail);
    fprintf(stderr, "%s:%d: %s returned %s (%s), expected %s; last error: %s\n", file, line,
            call, cring_status_name(got), cring_status_message(got), cring_status_name(want),
            detail);
    exit(1);
}

/* Calls `call` and exits unless it returned `want`. */
#define EXPECT(call, want)                                                                       \
    do {                                                                                         \
        cring_status got_ = (call);                                                              \
        if (got_ != (cring_status)(want))                                                        \
            example_fail(__FILE__, __LINE__, #call, got_, (cring_status)(want));                 \
    } while (0)

/* Calls `call` and exits unless it succeeded. */
#define CHECK(call) EXPECT(call, CRING_STATUS_OK)

/* Exits with a message unless `cond` holds. */
#define ASSERT(cond)                                                                             \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);        \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

/*
 * The completion for sequence number `seq`: the cookie is the sequence number, and the result
 * and flags are derived from it, so that a lost, duplicated, reordered or torn entry is caught.
 * (The Rust side of the tests builds the same entries.)
 */
static inline cring_completion example_entry(uint64_t seq)
{
    cring_completion c;
    c.user_data = seq;
    c.result = (int32_t)(seq % 1000003u) - 500000;
    c.flags = 0xC0DE0000u | (uint32_t)(seq & 0xFFFFu);
    return c;
}

/* Exits unless `c` is the entry for `seq`. */
static inline void example_check(const cring_completion *c, uint64_t seq)
{
    cring_completion want = example_entry(seq);
    if (c->user_data != want.user_data || c->result != want.result || c->flags != want.flags) {
        fprintf(stderr,
                "entry %llu wrong: got user_data %llu result %d flags %#x, want result %d "
                "flags %#x\n",
                (unsigned long long)seq, (unsigned long long)c->user_data, (int)c->result,
                (unsigned)c->flags, (int)want.result, (unsigned)want.flags);
        exit(1);
    }
}

/* Sleeps for `us` microseconds. */
static inline void example_sleep_us(long us)
{
    struct timespec ts;
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = (us % 1000000) * 1000;
    nanosleep(&ts, NULL);
}

/* Parses a non-negative decimal argument or exits. */
static inline unsigned long long example_number(const char *s)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0') {
        fprintf(stderr, "not a number: %s\n", s);
        exit(2);
    }
    return v;
}

#endif /* CRING_EXAMPLE_H */
