/*
 * cring_reader.c: the protocol you can run.
 *
 * An independent C11 consumer of a cring region (spec/LAYOUT.md, layout 1.4;
 * spec/PROTOCOL.md), written from the spec alone: no ring-ffi, no Rust. It is the reader that
 * spec/PROTOCOL.md, section 20 ("Writing a compatible reader") describes, and the test
 * ring-core/tests/c_reader.rs compiles it with `gcc -std=c11 -O2 -Wall -Wextra -Werror
 * -pedantic` and runs it against rings that ring-core creates under /dev/shm, as part of the
 * README's test command (scripts/test-all, `cargo test --workspace`).
 *
 * What it implements:
 *   - attach: every check of LAYOUT.md section 9 (1 to 25, numbered as there; 26, the mode
 *     a caller requires, is check 8 narrowed to the single-consumer modes SPSC and MPSC), and
 *     the trusted copies of section 10; it accepts INCOMPAT_OVERFLOW, INCOMPAT_WAIT,
 *     INCOMPAT_PRODUCERS, INCOMPAT_STREAM and INCOMPAT_WAIT_TARGET (1.3) and INCOMPAT_PACKED
 *     (1.4: SPSC slots without a slot header, LAYOUT.md section 6.1) and refuses every other
 *     incompat bit and every ro_compat bit, so it also reads 1.2 and 1.3 rings (and rings
 *     made for 1.2 peers, without the 1.3 bits);
 *   - starting a consumer: the claim word (LAYOUT.md section 11, with takeover of a dead
 *     holder), the overflow head recovery and, per mode, the SPSC index check or the MPSC head
 *     recovery (PROTOCOL.md section 17);
 *   - popping one entry: the ring first (SPSC: C1, C2; MPSC: SC1, SC2), then the overflow area
 *     (O4, O5, O6), skipping discarded positions; with INCOMPAT_STREAM, the end of the stream
 *     (E4): a pop that finds nothing loads the producer line's stream word (Acquire) and, if
 *     CLOSED is set, looks again and reports the end only if that finds nothing either;
 *   - sleeping (W2) on the wait block's futex word, with a timeout; with INCOMPAT_WAIT_TARGET,
 *     arming the wake-up target (the ring position head + 1) between the announcement and the
 *     fence; the re-check also ends the sleep when the stream is closed;
 *   - main: maps /dev/shm/<name>, consumes <count> entries (or, with the count "-", every
 *     entry until the end of the stream), checks each against the pattern the test's
 *     producers use, prints one summary line.
 *
 * It does not produce (no P1/SP1/MP1..MP4, O1..O3, W1), does not implement the
 * multi-consumer modes (SPMC, MPMC), and never writes the producer records (a consumer may
 * ignore them: only producers and recovery write them, PROTOCOL.md section 17.1).
 *
 * Usage: cring_reader <shm-name> <count>|- <producers> [--poll] [--timeout=<seconds>]
 *                     [--sleep=<seconds>]
 *
 * With a count, the reader reads exactly that many entries and then checks that nothing more
 * is there (the stream may be closed or not). With "-" (the ring must have INCOMPAT_STREAM),
 * it reads until the end of the stream, however many entries that is. --timeout bounds the
 * whole run (default 60 s); --sleep bounds each futex wait (default 0.02 s): with a long one,
 * the summary's timeouts=<n> (futex waits that nobody ended) shows a missed wake-up.
 *
 * Entries: producer p's entry number seq (both from 0) is the Completion
 *   user_data = p << 32 | seq, result = (int32_t)((uint32_t)seq ^ 0x5A5A5A5A),
 *   flags = 0xC0DE0000 | p,
 * and each producer's entries must arrive in order (PROTOCOL.md 18.4, property O).
 *
 * Exit status: 0 when exactly <count> entries arrived and matched and nothing more was
 * there (with "-": when every entry matched and the end of the stream was reached); 1 on a
 * mismatch, an end of stream before <count> entries, a corruption report or the timeout; 2
 * on bad usage (also "-" on a ring without INCOMPAT_STREAM) or a mapping failure; 3 when
 * attach refused the region; 4 when the consumer could not start (claim busy, corrupt lap
 * tags).
 */
#define _GNU_SOURCE /* syscall(), kill() */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * Host requirements (spec/README.md): little-endian, and lock-free 32- and 64-bit atomics
 * (atomics shared between processes must not be implemented with a lock in one process).
 */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "this reader assumes a little-endian host (or byte-swap every field)"
#endif
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

/* ---------------------------------------------------------------------------------------------
 * Layout (LAYOUT.md): constants, and the byte offsets of every word this reader touches.
 */
#define MAGIC UINT64_C(0x003176474e495243) /* "CRINGv1\0" read as a little-endian u64 */
#define HEADER_LEN 256u
#define LINE_LEN 128u
#define BLOCK_ALIGN 128u
#define BLOCK_COUNT 8
#define MAX_CAPACITY 0x80000000u
#define MAX_PRODUCER_SLOTS 4096u

#define MODE_SPSC 0u
#define MODE_MPSC 1u

#define INCOMPAT_OVERFLOW UINT64_C(0x1)
#define INCOMPAT_WAIT UINT64_C(0x2)
#define INCOMPAT_PRODUCERS UINT64_C(0x4)
#define INCOMPAT_STREAM UINT64_C(0x8)       /* 1.3: the producer line's stream word */
#define INCOMPAT_WAIT_TARGET UINT64_C(0x10) /* 1.3: the wait line's wake_target word */
#define INCOMPAT_PACKED UINT64_C(0x40)      /* 1.4: SPSC slots without a slot header */
/* What this reader implements: all six (a consumer may ignore the producer records). */
#define INCOMPAT_ACCEPTED                                                                      \
    (INCOMPAT_OVERFLOW | INCOMPAT_WAIT | INCOMPAT_PRODUCERS | INCOMPAT_STREAM |                \
     INCOMPAT_WAIT_TARGET | INCOMPAT_PACKED)
#define RO_COMPAT_KNOWN UINT64_C(0x0)

#define OVF_ACTIVE (UINT64_C(1) << 32) /* bit 32 of the overflow state word */
#define META_DISCARDED 0x1u     /* slot meta bit 0 */
#define NO_WAKE 0x1u            /* wait flags bit 0 */
#define FUTEX_UNIT 1u           /* a futex sleeper's unit in waiters (eventfd ones: 1 << 16) */
#define STREAM_CLOSED (UINT32_C(1) << 31) /* stream word: final, no producer publishes again */
#define TARGET_ARMED (UINT64_C(1) << 32)  /* wake_target: low 32 bits are a ring position */
#define TARGET_ANY (UINT64_C(1) << 33)    /* wake_target: wake after any publication */
#define ARM_ATTEMPTS 8                    /* compare-and-swaps before falling back to ANY */

/* Header fields (LAYOUT.md section 2). */
enum {
    H_MAGIC = 0, H_VERSION_MAJOR = 8, H_VERSION_MINOR = 12, H_HEADER_LEN = 16, H_MODE = 20,
    H_COMPAT = 24, H_INCOMPAT = 32, H_RO_COMPAT = 40, H_CAPACITY = 48, H_ENTRY_FORMAT = 52,
    H_ENTRY_SIZE = 56, H_ENTRY_ALIGN = 60, H_SLOT_STRIDE = 64, H_PAYLOAD_OFFSET = 68,
    H_REGION_LEN = 72, H_BLOCKS = 88, H_OVERFLOW_CAPACITY = 216, H_PRODUCER_SLOTS = 220
};
/* Block table rows (LAYOUT.md section 3). */
enum { ROW_PRODUCER, ROW_CONSUMER, ROW_SLOTS, ROW_OVERFLOW, ROW_WAIT, ROW_PRODUCERS };
static const char *const ROW_NAMES[BLOCK_COUNT] = {
    "producer", "consumer", "slots", "overflow", "wait", "producers", "reserved", "reserved"};
/* Words inside the lines (LAYOUT.md sections 4, 5, 12.1, 13); the last enum: the wait line. */
enum { PL_TAIL = 0, PL_STREAM = 24 };           /* producer line */
enum { CL_HEAD = 0, CL_OWNER = 4 };             /* consumer line */
enum { OL_STATE = 0, OL_HEAD = 8 };             /* overflow line; slots start at +128 */
enum { WL_FUTEX = 0, WL_WAITERS = 4, WL_FLAGS = 8, WL_SLEEPS = 24, WL_WAKE_TARGET = 32 };
enum { SLOT_SEQ = 0, SLOT_META = 4 };           /* slot header; payload at payload_offset */

/* The entry type: Completion, entry format 1 (LAYOUT.md section 7.1). */
struct cring_completion {
    uint64_t user_data;
    int32_t result;
    uint32_t flags;
};
_Static_assert(sizeof(struct cring_completion) == 16, "Completion is 16 bytes");
#define ENTRY_FORMAT 1u
#define ENTRY_SIZE 16u
#define ENTRY_ALIGN 8u
/* LAYOUT.md section 6: payload_offset = max(8, align), stride = round_up(8 + 16, max(4, 8)). */
#define PAYLOAD_OFFSET 8u
#define SLOT_STRIDE 24u
/* LAYOUT.md section 6.1 (INCOMPAT_PACKED): payload_offset = 0, stride = round_up(16, 8). The
   overflow area, which packed rings never have, always uses the section 6 layout. */
#define PACKED_PAYLOAD_OFFSET 0u
#define PACKED_SLOT_STRIDE 16u

/* ---------------------------------------------------------------------------------------------
 * The reader's private state: trusted copies (LAYOUT.md section 10) and private indices.
 * Nothing here is ever re-read from the region.
 */
struct cring_reader {
    uint8_t *base;
    uint32_t mode, capacity, mask;
    uint64_t incompat; /* the one value loaded for checks 6, 13, 18, 19, 21 to 25 */
    uint32_t stride, payload_offset; /* of the ring's slots: section 6, or 6.1 when packed */
    uint64_t producer_off, consumer_off, slots_off;
    uint32_t ocap, omask;  /* ocap == 0: no overflow area */
    uint64_t overflow_off; /* the overflow line; its slots start 128 bytes later */
    int has_wait;
    uint64_t wait_off;
    int has_stream;      /* INCOMPAT_STREAM: E4 reads the producer line's stream word */
    int has_wait_target; /* INCOMPAT_WAIT_TARGET (only with the wait block): W2 arms a target */
    uint32_t producer_slots; /* kept for completeness: a consumer never touches the records */

    uint32_t token;          /* our claim token (process id) while we hold the consumer side */
    uint32_t head;           /* private ring head */
    uint32_t tail_cache;     /* SPSC: the last validated tail (C1) */
    uint32_t ohead;          /* private overflow head */

    /* statistics for the summary */
    uint64_t from_ring, from_overflow, discarded, sleeps, timeouts, deactivations, armed;
    char error[256]; /* what went wrong */
};

static _Atomic uint32_t *word32(struct cring_reader *r, uint64_t off) {
    return (_Atomic uint32_t *)(void *)(r->base + off);
}
static _Atomic uint64_t *word64(struct cring_reader *r, uint64_t off) {
    return (_Atomic uint64_t *)(void *)(r->base + off);
}
static uint32_t hdr32(uint8_t *base, unsigned off) {
    return atomic_load_explicit((_Atomic uint32_t *)(void *)(base + off), memory_order_relaxed);
}
static uint64_t hdr64(uint8_t *base, unsigned off) {
    return atomic_load_explicit((_Atomic uint64_t *)(void *)(base + off), memory_order_relaxed);
}
static int is_pow2_cap(uint32_t x) { return x >= 2 && x <= MAX_CAPACITY && (x & (x - 1)) == 0; }

/* ---------------------------------------------------------------------------------------------
 * Attach (LAYOUT.md section 9). Returns 0, or the number of the failed check with r->error
 * saying why. Every header field is loaded once (magic with Acquire, the rest Relaxed: a peer
 * may write the header while we read it, so plain loads would be a data race), and every later
 * address is computed from the copies kept at the end.
 */
struct header {
    uint64_t magic, compat, incompat, ro_compat, region_len;
    uint32_t version_major, version_minor, header_len, mode, capacity;
    uint32_t entry_format, entry_size, entry_align, slot_stride, payload_offset;
    uint32_t overflow_capacity, producer_slots;
    uint64_t off[BLOCK_COUNT], len[BLOCK_COUNT];
};

#define REFUSE(check, ...)                                                   \
    do {                                                                     \
        snprintf(r->error, sizeof r->error, "check " #check ": " __VA_ARGS__); \
        return (check);                                                      \
    } while (0)

int cring_attach(struct cring_reader *r, uint8_t *base, uint64_t available) {
    memset(r, 0, sizeof *r);
    struct header h;
    if ((uintptr_t)base % BLOCK_ALIGN != 0) /* 1 */
        REFUSE(1, "base address %p is not 128-byte aligned", (void *)base);
    if (available < HEADER_LEN) /* 2 */
        REFUSE(2, "region too short: %" PRIu64 " bytes available, the header needs 256",
               available);
    /* 3: Acquire, pairing with the creator's Release store of magic, written last. */
    h.magic = atomic_load_explicit((_Atomic uint64_t *)(void *)base, memory_order_acquire);
    if (h.magic != MAGIC)
        REFUSE(3, "bad magic 0x%016" PRIx64 "%s", h.magic,
               h.magic == 0 ? " (still being formatted?)" : "");
    h.version_major = hdr32(base, H_VERSION_MAJOR);
    h.version_minor = hdr32(base, H_VERSION_MINOR);
    h.header_len = hdr32(base, H_HEADER_LEN);
    h.mode = hdr32(base, H_MODE);
    h.compat = hdr64(base, H_COMPAT); /* no bit defined; unknown bits are ignored */
    h.incompat = hdr64(base, H_INCOMPAT); /* loaded ONCE: decides 6, 18, 19, 21 to 24 */
    h.ro_compat = hdr64(base, H_RO_COMPAT);
    h.capacity = hdr32(base, H_CAPACITY);
    h.entry_format = hdr32(base, H_ENTRY_FORMAT);
    h.entry_size = hdr32(base, H_ENTRY_SIZE);
    h.entry_align = hdr32(base, H_ENTRY_ALIGN);
    h.slot_stride = hdr32(base, H_SLOT_STRIDE);
    h.payload_offset = hdr32(base, H_PAYLOAD_OFFSET);
    h.region_len = hdr64(base, H_REGION_LEN);
    for (int i = 0; i < BLOCK_COUNT; i++) {
        h.off[i] = hdr64(base, H_BLOCKS + 16u * (unsigned)i);
        h.len[i] = hdr64(base, H_BLOCKS + 16u * (unsigned)i + 8u);
    }
    h.overflow_capacity = hdr32(base, H_OVERFLOW_CAPACITY);
    h.producer_slots = hdr32(base, H_PRODUCER_SLOTS);

    if (h.version_major != 1) /* 4: any minor is accepted */
        REFUSE(4, "unsupported layout version %" PRIu32 ".%" PRIu32, h.version_major,
               h.version_minor);
    if (h.header_len < HEADER_LEN || h.header_len > available) /* 5 */
        REFUSE(5, "header_len %" PRIu32 " out of range", h.header_len);
    uint64_t inc = h.incompat;
    if (inc & ~INCOMPAT_ACCEPTED) /* 6 */
        REFUSE(6, "unknown incompat bits 0x%" PRIx64, inc & ~INCOMPAT_ACCEPTED);
    if (h.ro_compat & ~RO_COMPAT_KNOWN) /* 7 */
        REFUSE(7, "unknown ro_compat bits 0x%" PRIx64, h.ro_compat & ~RO_COMPAT_KNOWN);
    /* 8, narrowed to the modes this reader implements (LAYOUT.md section 9, after the table). */
    if (h.mode == 2 || h.mode == 3)
        REFUSE(8, "mode %" PRIu32 " has several consumers; this reader runs the single-consumer "
                  "steps only (SPSC, MPSC)", h.mode);
    if (h.mode != MODE_SPSC && h.mode != MODE_MPSC)
        REFUSE(8, "invalid mode word 0x%" PRIx32, h.mode);
    if (!is_pow2_cap(h.capacity)) /* 9 */
        REFUSE(9, "capacity %" PRIu32 " is not a power of two in 2..=2^31", h.capacity);
    if (h.entry_format != ENTRY_FORMAT) /* 10 */
        REFUSE(10, "entry_format %" PRIu32 ", expected %u (Completion)", h.entry_format,
               ENTRY_FORMAT);
    if (h.entry_size != ENTRY_SIZE) /* 11 */
        REFUSE(11, "entry_size %" PRIu32 ", expected %u", h.entry_size, ENTRY_SIZE);
    if (h.entry_align != ENTRY_ALIGN) /* 12 */
        REFUSE(12, "entry_align %" PRIu32 ", expected %u", h.entry_align, ENTRY_ALIGN);
    int packed = (inc & INCOMPAT_PACKED) != 0;
    uint32_t stride = packed ? PACKED_SLOT_STRIDE : SLOT_STRIDE;
    uint32_t poff = packed ? PACKED_PAYLOAD_OFFSET : PAYLOAD_OFFSET;
    if (h.slot_stride != stride || h.payload_offset != poff) /* 13 */
        REFUSE(13, "slot_stride %" PRIu32 " / payload_offset %" PRIu32 ", expected %" PRIu32
                   " / %" PRIu32, h.slot_stride, h.payload_offset, stride, poff);
    if (h.region_len > available) /* 14 */
        REFUSE(14, "region too short: region_len %" PRIu64 ", %" PRIu64 " bytes available",
               h.region_len, available);
    if (h.region_len < h.header_len) /* 15 */
        REFUSE(15, "region_len %" PRIu64 " is smaller than the header", h.region_len);
    for (int i = 0; i < BLOCK_COUNT; i++) { /* 16: every present row, rows 6 and 7 included */
        uint64_t o = h.off[i], l = h.len[i];
        if (o == 0 && l == 0)
            continue; /* absent */
        if (l > UINT64_MAX - o || l == 0 || o % BLOCK_ALIGN != 0 || o < h.header_len ||
            o + l > h.region_len)
            REFUSE(16, "block %s at %" PRIu64 " length %" PRIu64 " out of bounds",
                   ROW_NAMES[i], o, l);
    }
    for (int i = 0; i < BLOCK_COUNT; i++) /* 17: no two present rows overlap */
        for (int j = 0; j < i; j++)
            if (h.len[i] != 0 && h.len[j] != 0 && h.off[i] < h.off[j] + h.len[j] &&
                h.off[j] < h.off[i] + h.len[i])
                REFUSE(17, "block %s at %" PRIu64 " length %" PRIu64 " overlaps block %s",
                       ROW_NAMES[i], h.off[i], h.len[i], ROW_NAMES[j]);
    if ((inc & INCOMPAT_OVERFLOW) ? !is_pow2_cap(h.overflow_capacity)
                                  : h.overflow_capacity != 0) /* 18 */
        REFUSE(18, "overflow_capacity %" PRIu32 " does not match incompat 0x%" PRIx64,
               h.overflow_capacity, inc);
    if ((inc & INCOMPAT_PRODUCERS)
            ? (h.producer_slots < 1 || h.producer_slots > MAX_PRODUCER_SLOTS)
            : h.producer_slots != 0) /* 19 */
        REFUSE(19, "producer_slots %" PRIu32 " does not match incompat 0x%" PRIx64,
               h.producer_slots, inc);
    /* 20 to 23: the row lengths, computed in 64 bits. */
    uint64_t want[6] = {
        LINE_LEN, LINE_LEN, (uint64_t)h.capacity * stride,
        (inc & INCOMPAT_OVERFLOW) ? LINE_LEN + (uint64_t)h.overflow_capacity * SLOT_STRIDE : 0,
        (inc & INCOMPAT_WAIT) ? LINE_LEN : 0,
        (inc & INCOMPAT_PRODUCERS) ? LINE_LEN * (1 + (uint64_t)h.producer_slots) : 0};
    static const int check_of_row[6] = {20, 20, 20, 21, 22, 23};
    for (int i = 0; i < 6; i++)
        if (h.len[i] != want[i]) {
            snprintf(r->error, sizeof r->error,
                     "check %d: block %s length %" PRIu64 ", expected %" PRIu64,
                     check_of_row[i], ROW_NAMES[i], h.len[i], want[i]);
            return check_of_row[i];
        }
    if ((inc & INCOMPAT_WAIT_TARGET) && !(inc & INCOMPAT_WAIT)) /* 24 */
        REFUSE(24, "incompat 0x%" PRIx64 " has INCOMPAT_WAIT_TARGET without INCOMPAT_WAIT (the "
                   "wake-up target lives in the wait block)", inc);
    if (packed && (h.mode != MODE_SPSC || (inc & INCOMPAT_OVERFLOW))) /* 25 */
        REFUSE(25, "incompat 0x%" PRIx64 " has INCOMPAT_PACKED on mode %" PRIu32 " (packed slots "
                   "exist only in SPSC rings without an overflow area)", inc, h.mode);
    /* 26 (the mode a caller requires) is check 8 narrowed, above. */

    /* Trusted copies (LAYOUT.md section 10): from here on the header is never read again. */
    r->base = base;
    r->mode = h.mode;
    r->capacity = h.capacity;
    r->mask = h.capacity - 1;
    r->incompat = inc;
    r->stride = stride;
    r->payload_offset = poff;
    r->producer_off = h.off[ROW_PRODUCER];
    r->consumer_off = h.off[ROW_CONSUMER];
    r->slots_off = h.off[ROW_SLOTS];
    r->ocap = (inc & INCOMPAT_OVERFLOW) ? h.overflow_capacity : 0;
    r->omask = r->ocap - 1; /* unused when ocap == 0 */
    r->overflow_off = h.off[ROW_OVERFLOW];
    r->has_wait = (inc & INCOMPAT_WAIT) != 0;
    r->wait_off = h.off[ROW_WAIT];
    r->has_stream = (inc & INCOMPAT_STREAM) != 0;
    r->has_wait_target = (inc & INCOMPAT_WAIT_TARGET) != 0; /* implies has_wait: check 24 */
    r->producer_slots = (inc & INCOMPAT_PRODUCERS) ? h.producer_slots : 0;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Slots and lap tags. Ring tags are stored as they are (PROTOCOL.md section 5); overflow tags
 * are stored biased by the slot index (LAYOUT.md section 12.3): load adds p & omask, store
 * subtracts it. All index and tag arithmetic is uint32_t, which wraps: never widen it.
 */
static uint8_t *ring_slot(struct cring_reader *r, uint32_t p) {
    return r->base + r->slots_off + (uint64_t)(p & r->mask) * r->stride;
}
static uint8_t *ovf_slot(struct cring_reader *r, uint32_t p) {
    return r->base + r->overflow_off + LINE_LEN + (uint64_t)(p & r->omask) * SLOT_STRIDE;
}
static uint32_t ring_tag(struct cring_reader *r, uint32_t p) {
    return atomic_load_explicit((_Atomic uint32_t *)(void *)(ring_slot(r, p) + SLOT_SEQ),
                                memory_order_acquire);
}
static uint32_t ovf_tag(struct cring_reader *r, uint32_t p) {
    return atomic_load_explicit((_Atomic uint32_t *)(void *)(ovf_slot(r, p) + SLOT_SEQ),
                                memory_order_acquire) +
           (p & r->omask);
}
static void ring_set_tag(struct cring_reader *r, uint32_t p, uint32_t tag) {
    atomic_store_explicit((_Atomic uint32_t *)(void *)(ring_slot(r, p) + SLOT_SEQ), tag,
                          memory_order_release);
}
static void ovf_set_tag(struct cring_reader *r, uint32_t p, uint32_t tag) {
    atomic_store_explicit((_Atomic uint32_t *)(void *)(ovf_slot(r, p) + SLOT_SEQ),
                          tag - (p & r->omask), memory_order_release);
}
/* Reading a claimed position (PROTOCOL.md 6.5): meta Relaxed (ordered by the Acquire tag load
   that found the position published), then copy the payload out and interpret only the copy. */
static int read_slot(uint8_t *slot, uint32_t payload_offset, int check_meta,
                     struct cring_completion *out) {
    if (check_meta &&
        (atomic_load_explicit((_Atomic uint32_t *)(void *)(slot + SLOT_META),
                              memory_order_relaxed) & META_DISCARDED))
        return 0;
    memcpy(out, slot + payload_offset, sizeof *out);
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Starting the consumer: the claim word (LAYOUT.md section 11) and the start-up recovery and
 * checks (LAYOUT.md section 9 after the table; PROTOCOL.md section 17).
 */
static int process_dead(uint32_t pid) {
    if (pid > INT32_MAX)
        return 1; /* not a valid pid_t */
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 1;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%" PRIu32 "/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0; /* unreadable: not a zombie */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *paren = strrchr(buf, ')'); /* the state is the first field after the last ')' */
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* Takes the consumer claim: at most 4 compare-and-swaps, taking over a dead holder's claim. */
static int claim(struct cring_reader *r, uint32_t token) {
    _Atomic uint32_t *owner = word32(r, r->consumer_off + CL_OWNER);
    uint32_t expected = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        uint32_t cur = expected;
        if (atomic_compare_exchange_strong_explicit(owner, &cur, token, memory_order_acq_rel,
                                                    memory_order_acquire))
            return 0;
        if (cur != 0 && (cur == token || !process_dead(cur))) {
            snprintf(r->error, sizeof r->error, "consumer side busy: held by process %" PRIu32,
                     cur);
            return -1;
        }
        expected = cur; /* 0: it became free; otherwise a dead holder: take it over */
    }
    snprintf(r->error, sizeof r->error, "consumer side busy: held by process %" PRIu32,
             atomic_load_explicit(owner, memory_order_acquire));
    return -1;
}

static void give_back(struct cring_reader *r) {
    uint32_t tok = r->token;
    atomic_compare_exchange_strong_explicit(word32(r, r->consumer_off + CL_OWNER), &tok, 0,
                                            memory_order_acq_rel, memory_order_relaxed);
    r->token = 0;
}

/* Moves a single consumer's head past positions a dead predecessor freed but did not record in
   the shared index (PROTOCOL.md section 17, lap::recover_head): at most one lap. A tag that is
   neither freed (p + cap, or p + cap + 1 when already republished) nor Ready nor NotYet is one
   no honest participant writes: SlotSequence. */
static int recover_head(struct cring_reader *r, int overflow, uint32_t *out) {
    _Atomic uint32_t *index =
        overflow ? word32(r, r->overflow_off + OL_HEAD) : word32(r, r->consumer_off + CL_HEAD);
    uint32_t cap = overflow ? r->ocap : r->capacity;
    uint32_t h = atomic_load_explicit(index, memory_order_acquire), start = h;
    for (uint32_t i = 0; i < cap; i++) {
        uint32_t seq = overflow ? ovf_tag(r, h) : ring_tag(r, h);
        uint32_t d = seq - h;
        if (d == cap || d == cap + 1) {
            h++;
            continue;
        }
        if (d == 0 || d == 1)
            break; /* NotYet, Ready */
        snprintf(r->error, sizeof r->error,
                 "corrupt: %s position 0x%08" PRIx32 " has lap tag 0x%08" PRIx32,
                 overflow ? "overflow" : "ring", h, seq);
        return -1;
    }
    if (h != start)
        atomic_store_explicit(index, h, memory_order_release);
    *out = h;
    return 0;
}

int cring_start(struct cring_reader *r, uint32_t token) {
    if (claim(r, token) != 0)
        return -1;
    r->token = token;
    /* A single consumer with an overflow area: the overflow head first. */
    if (r->ocap && recover_head(r, 1, &r->ohead) != 0)
        goto fail;
    if (r->mode == MODE_SPSC) {
        /* Own index first, then the other (both Acquire): tail - head <= capacity. */
        uint32_t head = atomic_load_explicit(word32(r, r->consumer_off + CL_HEAD),
                                             memory_order_acquire);
        uint32_t tail = atomic_load_explicit(word32(r, r->producer_off + PL_TAIL),
                                             memory_order_acquire);
        if (tail - head > r->capacity) {
            snprintf(r->error, sizeof r->error,
                     "corrupt: indices out of range: tail 0x%08" PRIx32 " head 0x%08" PRIx32,
                     tail, head);
            goto fail;
        }
        r->head = head;
        r->tail_cache = tail;
    } else if (recover_head(r, 0, &r->head) != 0) { /* MPSC */
        goto fail;
    }
    return 0;
fail:
    give_back(r);
    return -2;
}

/* Stopping: give the claim back (compare-and-swap from our token to 0). */
void cring_stop(struct cring_reader *r) { give_back(r); }

/* ---------------------------------------------------------------------------------------------
 * Popping one entry: the ring first, then the overflow area.
 */
/* POP_CLOSED: the end of the stream (E4): nothing is left and nothing more will come. */
enum pop_result { POP_OK, POP_SKIPPED, POP_EMPTY, POP_CORRUPT, POP_CLOSED };

/* SPSC ring: C1 (claim), read, C2 (release). Ring slots carry no lap tags in SPSC. */
static enum pop_result pop_ring_spsc(struct cring_reader *r, struct cring_completion *out) {
    uint32_t avail = r->tail_cache - r->head; /* C1.1: from the validated cache */
    if (avail == 0) {
        /* C1.2: Acquire, pairing with the producer's Release store of tail (P2). */
        uint32_t tail = atomic_load_explicit(word32(r, r->producer_off + PL_TAIL),
                                             memory_order_acquire);
        avail = tail - r->head;
        if (avail > r->capacity) {
            snprintf(r->error, sizeof r->error,
                     "corrupt: indices out of range: tail 0x%08" PRIx32 " head 0x%08" PRIx32,
                     tail, r->head);
            return POP_CORRUPT;
        }
        r->tail_cache = tail;
        if (avail == 0)
            return POP_EMPTY; /* C1.3 */
    }
    read_slot(ring_slot(r, r->head), r->payload_offset, 0, out); /* SPSC ring: no meta */
    r->head++;                                /* C2: Release, after the payload reads */
    atomic_store_explicit(word32(r, r->consumer_off + CL_HEAD), r->head, memory_order_release);
    return POP_OK;
}

/* MPSC ring: SC1 (scan one position), read, SC2 (free the slot, then store head). */
static enum pop_result pop_ring_mpsc(struct cring_reader *r, struct cring_completion *out) {
    uint32_t p = r->head;
    uint32_t seq = ring_tag(r, p); /* SC1: Acquire, pairs with the producer's MP4 Release */
    uint32_t d = seq - p;
    if (d == 0)
        return POP_EMPTY; /* NotYet: free, or reserved and being written */
    if (d != 1) {         /* Other: no other value is valid for a single consumer */
        snprintf(r->error, sizeof r->error,
                 "corrupt: ring position 0x%08" PRIx32 " has lap tag 0x%08" PRIx32, p, seq);
        return POP_CORRUPT;
    }
    int kept = read_slot(ring_slot(r, p), r->payload_offset, 1, out);
    ring_set_tag(r, p, p + r->capacity); /* SC2: free for the next lap (Release) */
    r->head = p + 1;                     /* then the index (Release); it may lag the tags */
    atomic_store_explicit(word32(r, r->consumer_off + CL_HEAD), r->head, memory_order_release);
    return kept ? POP_OK : POP_SKIPPED;
}

/* O6: hand the producers back to the ring once every reserved overflow position is consumed. */
static void try_deactivate(struct cring_reader *r) {
    _Atomic uint64_t *state = word64(r, r->overflow_off + OL_STATE);
    uint64_t s = atomic_load_explicit(state, memory_order_acquire); /* O6.1 */
    if (!(s & OVF_ACTIVE))
        return;
    if ((uint32_t)s == r->ohead && /* O6.2, O6.3: one 64-bit CAS from exactly s */
        atomic_compare_exchange_strong_explicit(state, &s, s & ~OVF_ACTIVE,
                                                memory_order_acq_rel, memory_order_relaxed))
        r->deactivations++;
    /* a failure means a producer reserved meanwhile: the area stays active */
}

/* The ring's tail == our private head: no ring position reserved (MPSC) or published (SPSC)
   and not yet consumed. The strong emptiness of O4. */
static int ring_strongly_empty(struct cring_reader *r) {
    return atomic_load_explicit(word32(r, r->producer_off + PL_TAIL), memory_order_acquire) ==
           r->head;
}

/* Overflow area, single consumer: O4 (scan, then the strong-empty check), O5 (like SC1, SC2),
   O6 when short. */
static enum pop_result pop_overflow(struct cring_reader *r, struct cring_completion *out) {
    uint32_t p = r->ohead;
    uint32_t seq = ovf_tag(r, p); /* O4 scan: Acquire, pairs with the producer's O3 Release */
    uint32_t d = seq - p;
    if (d != 0 && d != 1) { /* Other: fail before the strong-empty check (O5) */
        snprintf(r->error, sizeof r->error,
                 "corrupt: overflow position 0x%08" PRIx32 " has lap tag 0x%08" PRIx32, p, seq);
        return POP_CORRUPT;
    }
    /* O4: only AFTER the tag load, and only if the ring is empty in the strong sense.
       Checking first would let a producer's ring entry slip in behind us (RATIONALE.md, the
       order guarantee). */
    if (d == 0 || !ring_strongly_empty(r)) {
        try_deactivate(r); /* O6 */
        return POP_EMPTY;
    }
    int kept = read_slot(ovf_slot(r, p), PAYLOAD_OFFSET, 1, out); /* meta in every mode */
    ovf_set_tag(r, p, p + r->ocap);               /* O5: free (biased store, Release) */
    r->ohead = p + 1;                             /* then the overflow head (Release) */
    atomic_store_explicit(word32(r, r->overflow_off + OL_HEAD), r->ohead, memory_order_release);
    return kept ? POP_OK : POP_SKIPPED;
}

/* One entry from the ring, else from the overflow area, skipping discarded positions
   (bounded: at most one of each lane's laps). POP_SKIPPED when the bound ran out while
   skipping: something was consumed, so this is not "empty" (E4 must not conclude from it). */
static enum pop_result pop_any(struct cring_reader *r, struct cring_completion *out) {
    for (uint64_t round = 0; round <= (uint64_t)r->capacity + r->ocap; round++) {
        enum pop_result res =
            r->mode == MODE_SPSC ? pop_ring_spsc(r, out) : pop_ring_mpsc(r, out);
        int from_overflow = 0;
        if (res == POP_EMPTY && r->ocap) {
            res = pop_overflow(r, out);
            from_overflow = 1;
        }
        if (res == POP_OK)
            ++*(from_overflow ? &r->from_overflow : &r->from_ring);
        if (res != POP_SKIPPED)
            return res;
        r->discarded++;
    }
    return POP_SKIPPED;
}

/* E4's first load: the stream word says CLOSED (Acquire: pairs with the producers' close,
   which comes after their last publication, so every entry is visible after this load). */
static int stream_closed(struct cring_reader *r) {
    return r->has_stream &&
           (atomic_load_explicit(word32(r, r->producer_off + PL_STREAM), memory_order_acquire) &
            STREAM_CLOSED) != 0;
}

/* Pops one entry. POP_EMPTY: nothing now; POP_CLOSED (rings with INCOMPAT_STREAM): the end of
   the stream. E4: only after a pop that found the ring and the overflow area empty, and only
   if, after the Acquire load that saw CLOSED, one more pop finds nothing either. */
enum pop_result cring_pop(struct cring_reader *r, struct cring_completion *out) {
    enum pop_result res = pop_any(r, out);
    if (res == POP_SKIPPED)
        return POP_EMPTY; /* the skip bound ran out: the caller comes back */
    if (res != POP_EMPTY || !stream_closed(r))
        return res;
    res = pop_any(r, out); /* E4: look again, now that the close made everything visible */
    if (res == POP_SKIPPED)
        return POP_EMPTY; /* discarded positions were left: the next call decides */
    return res == POP_EMPTY ? POP_CLOSED : res;
}

/* ---------------------------------------------------------------------------------------------
 * Sleeping (W2), for a ring with the wait block, after cring_pop returned POP_EMPTY.
 */

/* The W2 re-check (PROTOCOL.md 19.2, the wait condition with min = 1): would cring_pop find
   something, or report the end of the stream? Loads only, claims nothing. Corrupt-looking
   tags count as ready so that pop reports them. */
static int ready(struct cring_reader *r) {
    if (stream_closed(r))
        return 1; /* E4: cring_pop takes what is left, then reports the end */
    uint32_t tail = atomic_load_explicit(word32(r, r->producer_off + PL_TAIL),
                                         memory_order_acquire);
    if (r->mode == MODE_SPSC ? tail != r->head : ring_tag(r, r->head) != r->head)
        return 1;
    if (!r->ocap || tail != r->head)
        return 0; /* a reserved ring position keeps the overflow area closed (O4); its
                     publication runs W1 and wakes us */
    return ovf_tag(r, r->ohead) != r->ohead;
}

/* W2 step 8: retire, saturating at 0 in the futex half, at most 16
   attempts. */
static void retire(_Atomic uint32_t *waiters) {
    uint32_t v = atomic_load_explicit(waiters, memory_order_relaxed);
    for (int i = 0; i < 16 && (v & 0xffffu) != 0; i++)
        if (atomic_compare_exchange_weak_explicit(waiters, &v, v - FUTEX_UNIT,
                                                  memory_order_seq_cst, memory_order_relaxed))
            return;
}

enum sleep_result { SLEPT, READY, SLEEP_UNAVAILABLE };

/* W2 step 2 (1.3, INCOMPAT_WAIT_TARGET): arm the ring position pos whose publication completes
   our wait, lowering the armed target, never raising it. A target armed at t is kept when it is
   plausible (at most capacity ahead of our head, or behind it: a stale one, which wakes us
   early) and not above pos. At most ARM_ATTEMPTS compare-and-swaps against a word that keeps
   changing, then ANY (wake after any publication), which is always safe. */
static void arm_target(struct cring_reader *r, uint32_t pos) {
    _Atomic uint64_t *word = word64(r, r->wait_off + WL_WAKE_TARGET);
    uint64_t cur = atomic_load_explicit(word, memory_order_seq_cst);
    for (int i = 0; i < ARM_ATTEMPTS; i++) {
        if (cur & TARGET_ANY)
            return;
        if (cur & TARGET_ARMED) {
            uint32_t t = (uint32_t)cur, ahead = t - r->head;
            int plausible = ahead <= r->capacity || (int32_t)ahead < 0;
            if (plausible && (int32_t)(pos - t) >= 0)
                return; /* an equal or lower target is armed: it wakes us early enough */
        }
        if (atomic_compare_exchange_strong_explicit(word, &cur, TARGET_ARMED | pos,
                                                    memory_order_seq_cst,
                                                    memory_order_seq_cst)) {
            r->armed++;
            return;
        }
        /* cur now holds the value found: try again with it */
    }
    atomic_fetch_or_explicit(word, TARGET_ARMED | TARGET_ANY, memory_order_seq_cst);
}

/* Sleeps until a producer's W1 wakes us (with targets: once the producer index reaches our
   target, or after a publication into the overflow area; or a close, E1/E3, which wakes every
   sleeper), or timeout_ns passes. The steps are numbered as W2 in layout 1.3, whose step 2
   (arming the target) is new; a ring without INCOMPAT_WAIT_TARGET skips it. SLEEP_UNAVAILABLE
   (no wait block, NO_WAKE set, or futex waits failing with errno in *err): poll instead. */
enum sleep_result cring_sleep(struct cring_reader *r, int64_t timeout_ns, int *err) {
    *err = 0;
    if (!r->has_wait)
        return SLEEP_UNAVAILABLE;
    _Atomic uint32_t *futex = word32(r, r->wait_off + WL_FUTEX);
    _Atomic uint32_t *waiters = word32(r, r->wait_off + WL_WAITERS);
    _Atomic uint32_t *flags = word32(r, r->wait_off + WL_FLAGS);
    if (atomic_load_explicit(flags, memory_order_relaxed) & NO_WAKE)
        return SLEEP_UNAVAILABLE; /* nobody would wake us */
    /* W2.0: the futex snapshot first, so that a waker that disarms our target (which it read
       armed, after this load) also advances the futex after it: FUTEX_WAIT returns at once. */
    uint32_t seen = atomic_load_explicit(futex, memory_order_acquire);
    atomic_fetch_add_explicit(waiters, FUTEX_UNIT, memory_order_seq_cst); /* W2.1 announce */
    if (r->has_wait_target) /* W2.1T (1.3): arm the target, one entry beyond our private head */
        arm_target(r, r->head + 1);
    atomic_thread_fence(memory_order_seq_cst);                           /* W2.2 */
    if (atomic_load_explicit(flags, memory_order_relaxed) & NO_WAKE) {   /* W2.4 */
        retire(waiters);
        return SLEEP_UNAVAILABLE;
    }
    if (ready(r)) { /* W2.5: the re-check, after the fence (no lost wake-up, 19.2) */
        retire(waiters);
        return READY;
    }
    atomic_fetch_add_explicit(word64(r, r->wait_off + WL_SLEEPS), 1, memory_order_relaxed);
    r->sleeps++; /* W2.6 */
    struct timespec ts = {(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
    /* W2.7: a shared futex (not FUTEX_PRIVATE_FLAG): the producers are other processes. */
    long rc = syscall(SYS_futex, futex, FUTEX_WAIT, seen, &ts, NULL, 0);
    int e = errno;
    retire(waiters); /* W2.8, whatever ended the wait */
    if (rc != 0 && e != EAGAIN && e != EINTR && e != ETIMEDOUT) {
        *err = e; /* ENOSYS, EFAULT, ...: futex waits do not work here */
        return SLEEP_UNAVAILABLE;
    }
    if (rc != 0 && e == ETIMEDOUT)
        r->timeouts++; /* nobody woke us within timeout_ns */
    return SLEPT;
}

/* ---------------------------------------------------------------------------------------------
 * main: the test's consumer.
 */
#define MAX_PRODUCERS 64

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int usage(void) {
    fprintf(stderr, "usage: cring_reader <shm-name> <count>|- <producers> [--poll] "
                    "[--timeout=<seconds>] [--sleep=<seconds>]\n"
                    "  <count>: the entries to read; -: read until the end of the stream\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 4)
        return usage();
    const char *name = argv[1];
    char *end;
    /* "-": no count, read until the end of the stream (E4). */
    int until_closed = strcmp(argv[2], "-") == 0;
    uint64_t count = until_closed ? UINT64_MAX : strtoull(argv[2], &end, 10);
    if (!until_closed && (argv[2][0] == 0 || *end))
        return usage();
    unsigned long producers = strtoul(argv[3], &end, 10);
    if (*end || producers < 1 || producers > MAX_PRODUCERS)
        return usage();
    int poll_only = 0;
    double timeout = 60.0, sleep_s = 0.02;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--poll") == 0)
            poll_only = 1;
        else if (strncmp(argv[i], "--timeout=", 10) == 0)
            timeout = strtod(argv[i] + 10, NULL);
        else if (strncmp(argv[i], "--sleep=", 8) == 0)
            sleep_s = strtod(argv[i] + 8, NULL);
        else
            return usage();
    }
    if (!(sleep_s >= 0.000001 && sleep_s <= 3600.0))
        return usage();
    int64_t sleep_ns = (int64_t)(sleep_s * 1e9);
    if (strchr(name, '/') || strlen(name) > 200)
        return usage();

    /* Map /dev/shm/<name> (MAP_SHARED, read-write: a consumer writes tags and indices). */
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
        fprintf(stderr, "cring_reader: cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    uint64_t available = (uint64_t)st.st_size;
    void *map = mmap(NULL, (size_t)available, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        fprintf(stderr, "cring_reader: cannot map %s: %s\n", path, strerror(errno));
        return 2;
    }

    static struct cring_reader reader;
    struct cring_reader *r = &reader;
    double deadline = now_s() + timeout;
    int check;
    /* A magic of 0 means the creator is still formatting: retry for a little while. */
    while ((check = cring_attach(r, map, available)) == 3 && now_s() < deadline &&
           atomic_load_explicit((_Atomic uint64_t *)map, memory_order_acquire) == 0)
        usleep(1000);
    if (check != 0) {
        fprintf(stderr, "cring_reader: refused %s: %s\n", name, r->error);
        printf("cring_reader: refused check=%d\n", check);
        return 3;
    }
    if (until_closed && !r->has_stream) {
        fprintf(stderr, "cring_reader: %s has no end-of-stream word (incompat 0x%" PRIx64
                        " lacks INCOMPAT_STREAM): give a count instead of -\n",
                name, r->incompat);
        printf("cring_reader: no-stream\n");
        munmap(map, (size_t)available);
        return 2;
    }
    uint32_t token = (uint32_t)getpid();
    if (cring_start(r, token ? token : 1) != 0) {
        fprintf(stderr, "cring_reader: cannot start a consumer: %s\n", r->error);
        printf("cring_reader: no-consumer\n");
        return 4;
    }

    uint64_t next[MAX_PRODUCERS] = {0}, consumed = 0;
    int status = 0, futex_broken = 0, closed = 0;
    unsigned idle = 0;
    struct cring_completion c;
    while (consumed < count) {
        enum pop_result res = cring_pop(r, &c);
        if (res == POP_CORRUPT) {
            fprintf(stderr, "cring_reader: %s\n", r->error);
            status = 1;
            break;
        }
        if (res == POP_CLOSED) { /* E4: everything is read and nothing more will come */
            closed = 1;
            if (!until_closed) {
                fprintf(stderr,
                        "cring_reader: end of stream after %" PRIu64 " of %" PRIu64 " entries\n",
                        consumed, count);
                status = 1;
            }
            break;
        }
        if (res == POP_OK) {
            uint64_t p = c.user_data >> 32, seq = c.user_data & 0xffffffffu;
            if (p >= producers || seq != next[p] ||
                c.result != (int32_t)((uint32_t)seq ^ 0x5A5A5A5Au) ||
                c.flags != (0xC0DE0000u | (uint32_t)p)) {
                fprintf(stderr,
                        "cring_reader: mismatch at entry %" PRIu64 ": user_data 0x%016" PRIx64
                        " result %" PRId32 " flags 0x%08" PRIx32 " (expected producer < %lu "
                        "at its seq %" PRIu64 ")\n",
                        consumed, c.user_data, c.result, c.flags, producers,
                        p < producers ? next[p] : 0);
                status = 1;
                break;
            }
            next[p]++;
            consumed++;
            idle = 0;
            continue;
        }
        /* POP_EMPTY: spin a little, then sleep (W2) or poll, within the deadline. */
        if (now_s() > deadline) {
            if (until_closed)
                fprintf(stderr, "cring_reader: timed out after %" PRIu64 " entries without "
                                "the end of the stream\n", consumed);
            else
                fprintf(stderr, "cring_reader: timed out after %" PRIu64 " of %" PRIu64
                                " entries\n", consumed, count);
            status = 1;
            break;
        }
        if (++idle < 64)
            continue;
        int err = 0;
        if (poll_only || futex_broken ||
            cring_sleep(r, sleep_ns, &err) == SLEEP_UNAVAILABLE) {
            if (err) {
                fprintf(stderr, "cring_reader: futex wait failed (%s); polling\n",
                        strerror(err));
                futex_broken = 1;
            }
            struct timespec ts = {0, 50 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    /* Exactly count: one more pop must find nothing (and runs O6 if the area is drained); the
       stream may or may not be closed by now. */
    if (status == 0 && !until_closed) {
        enum pop_result res = cring_pop(r, &c);
        if (res == POP_CLOSED) {
            closed = 1;
        } else if (res != POP_EMPTY) {
            fprintf(stderr, "cring_reader: %s after the last expected entry\n",
                    res == POP_CORRUPT ? r->error : "one more entry");
            status = 1;
        }
    }
    cring_stop(r);

    printf("cring_reader: %s mode=%s incompat=0x%" PRIx64 " consumed=%" PRIu64
           " ring=%" PRIu64 " overflow=%" PRIu64 " discarded=%" PRIu64 " sleeps=%" PRIu64
           " timeouts=%" PRIu64 " armed=%" PRIu64 " deactivations=%" PRIu64
           " closed=%d head=0x%08" PRIx32 " per_producer=",
           status == 0 ? "ok" : "FAILED", r->mode == MODE_SPSC ? "spsc" : "mpsc", r->incompat,
           consumed, r->from_ring, r->from_overflow, r->discarded, r->sleeps, r->timeouts,
           r->armed, r->deactivations, closed, r->head);
    for (unsigned long p = 0; p < producers; p++)
        printf("%s%" PRIu64, p ? "," : "", next[p]);
    printf("\n");
    munmap(map, (size_t)available);
    return status;
}
