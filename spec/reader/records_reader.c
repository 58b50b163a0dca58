/*
 * records_reader.c: an independent C11 consumer of a record ring (spec/RECORDS.md, with the
 * header and lines of spec/LAYOUT.md), written from the spec alone: no ring-ffi, no Rust. The
 * test ring-core/tests/records.rs (`c_reader_consumes_records_across_processes`) compiles it
 * with `gcc -std=c11 -O2 -Wall -Wextra -Werror -pedantic` and runs it against record rings that
 * ring-core creates under /dev/shm; ring-core/tests/c_reader.rs (`record_reader_takes_over_*`)
 * runs it as the successor of a Rust consumer killed with SIGKILL (section 7.3).
 *
 * What it implements:
 *   - attach: LAYOUT.md checks 1-5, 7, 14-17 and RECORDS.md section 3.2 (R6, R6b, R8-R13, the
 *     block lengths of rows 0-5, `overflow_capacity`), keeping private copies of the
 *     capacities and the offsets;
 *   - the consumer claim word (LAYOUT.md section 11: at most 4 compare-and-swaps, taking over
 *     the claim of a dead or zombie holder, refusing a live one) and the start checks of
 *     sections 3.2 and 13.1, from the shared positions a dead predecessor left;
 *   - RC1-RC3 (SPSC) and MC1-MC3 (MPSC, with zeroing of released records), skipping padding
 *     and discarded records, validating every header as section 6.1 says;
 *   - section 7.3, a predecessor that died between zeroing and storing `head`: at a zero
 *     header word below the producer position, in a ring with producer records, the intents
 *     of every record with an owner are read (the overflow intents in the overflow area); if
 *     none covers the word and it still reads 0, it is released space and the reader steps
 *     over it, 8 bytes at a time;
 *   - section 7.3's `release_end`: at the start of each MPSC lane of a region with
 *     `INCOMPAT_RELEASE_END`, a release a dead predecessor announced and did not finish is
 *     finished (the bytes up to `release_end` zeroed, `head` stored there); and its own
 *     releases announce each record's end first;
 *   - its own releases in the order section 7.3 recommends, so that a successor of this
 *     reader never finds a partly zeroed record it cannot pass: the header word first marked
 *     DISCARD, then the other words zeroed, the header word last, then `head`;
 *   - the overflow area (section 13, `INCOMPAT_RECORD_OVERFLOW`): RO5 (the overflow area is
 *     read only when the data area reads empty, and an overflow record is delivered only
 *     while the data area is empty in the strong sense), RO6 (zero, then store the overflow
 *     `head`) and RO7 (deactivation, both when the overflow area reads empty and right after
 *     releasing up to the last overflow producer position loaded);
 *   - completion records (section 9): the 16-byte completion and the attribute list, skipping
 *     unknown ids.
 *
 *   - the recovery of dead producers (sections 7.2 and 13.5, RR3-RR5), each time a pending
 *     record has held it up for 100 ms: under the registry's `recoverer` claim, the pending
 *     records no live producer's intent covers are committed as discarded (with the padding
 *     record their producer did not write), and the records of dead owners are freed.
 *
 * It does not produce or sleep (it polls with sched_yield). A predecessor that zeroed a record's
 * header word first and died before its last word (no consumer of this layout does) leaves
 * words it reports as an invalid header.
 *
 * Usage: records_reader <shm-name> <count> <producers> [--timeout=<seconds>]
 *                       [--from=<s0>,<s1>,...]
 *   --from: each producer's first expected seq (default 0): a reader that takes over from a
 *   dead consumer is told what the dead one delivered.
 *
 * Records: producer p's record number seq (both from 0) is a completion record (type 3) with
 *   user_data = p << 32 | seq, result = (int32_t)seq, flags = p,
 *   attributes: DURATION_NS (1, handled, u64) = seq * 3; WORKER_CPU (4, handled, u32) = p;
 *   a user id 0x8001 (handled) with seq % 5 bytes of value (byte i = (uint8_t)(seq + i));
 * and each producer's records must arrive in order. Unknown ids are skipped; the reader
 * requires exactly those two well-known attributes.
 *
 * Exit status: 0 when exactly <count> records arrived and matched and nothing more was
 * there; 1 on a mismatch, an invalid header or the timeout; 2 on bad usage or a mapping
 * failure; 3 when attach refused the region; 4 when the consumer could not start.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* LAYOUT.md section 1 and 2; RECORDS.md section 2. */
#define MAGIC 0x003176474e495243ull
#define HEADER_LEN 256u
#define INCOMPAT_WAIT 0x2ull
#define INCOMPAT_PRODUCERS 0x4ull
#define INCOMPAT_RECORDS 0x20ull
#define INCOMPAT_RECORD_OVERFLOW 0x80ull
#define INCOMPAT_RELEASE_END 0x100ull
#define OVERFLOW_ACTIVE (1ull << 32)
#define RECORDS_V1 2u
#define MIN_DATA_CAPACITY 32u
#define MAX_DATA_CAPACITY 0x80000000u
#define LEN_SHIFT 32
#define TYPE_SHIFT 56
#define TYPE_MASK 0x3full
#define DISCARD (1ull << 62)
#define BUSY (1ull << 63)
#define T_NONE 0u
#define T_PAD 1u
#define T_COMPLETION 3u

/* Header field offsets (LAYOUT.md section 2). */
#define H_MAGIC 0
#define H_MAJOR 8
#define H_HEADER_LEN 16
#define H_MODE 20
#define H_INCOMPAT 32
#define H_RO_COMPAT 40
#define H_CAPACITY 48
#define H_FORMAT 52
#define H_SIZE 56
#define H_ALIGN 60
#define H_STRIDE 64
#define H_PAYLOAD_OFFSET 68
#define H_REGION_LEN 72
#define H_BLOCKS 88
#define H_OVERFLOW_CAPACITY 216
#define H_PRODUCER_SLOTS 220

static uint32_t ld32(const uint8_t *p) {
    return atomic_load_explicit((_Atomic uint32_t *)(void *)p, memory_order_relaxed);
}
static uint64_t ld64(const uint8_t *p) {
    return atomic_load_explicit((_Atomic uint64_t *)(void *)p, memory_order_relaxed);
}

/* A byte area as the consumer reads it: the data area (section 6 and 7) or the overflow area
 * (section 13), each with its producer word, its shared head and the consumer's private
 * positions. */
struct lane {
    uint8_t *data;
    uint32_t cap, mask;
    int multi;          /* MPSC reading rules: pending headers, zeroing on release */
    uint8_t *tail_word; /* u64, position in bits 0..31: the record producer line's `tail`, or
                           the overflow line's `state` */
    uint8_t *head_word; /* u32: the consumer line's `head`, or the overflow line's `head` */
    uint8_t *release_word; /* u32: `release_end` of the consumer line (offset 8) or of the
                              overflow line (offset 12): section 7.3 */
    uint32_t head;      /* private position: the next byte to read */
    uint32_t stored;    /* the last value stored into *head_word */
    uint32_t tail;      /* the last validated producer position */
    int overflow;       /* the overflow lane: section 7.3 reads the records' overflow intents */
    int finish;         /* INCOMPAT_RELEASE_END: finish an announced release at the start */
};

struct ring {
    uint8_t *base;
    uint32_t mode;
    uint8_t *owner_word; /* consumer line offset 4: u32 */
    struct lane d;       /* the data area */
    int has_ovf;
    struct lane o;       /* the overflow area, when has_ovf */
};

/* Producer records (LAYOUT.md section 14.2), when INCOMPAT_PRODUCERS: what section 7.3 reads
 * to tell a reservation from space a dead consumer released. */
static uint8_t *registry; /* the registry line (row 5), LAYOUT.md section 14.1 */
static uint8_t *records;  /* the first record (row 5 + 128) */
static uint32_t nrecords; /* producer_slots */
static uint8_t *discarded_word; /* the record producer line's `discarded` (row 0 + 24) */
#define G_RECOVERER 0
#define G_RECOVERIES 8
#define G_RECOVERED 16
#define G_RECLAIMED 24
#define R_OWNER 0
#define R_START_TIME 8
#define R_RING_START 16
#define R_RING_LEN 20
#define R_OVERFLOW_START 24
#define R_OVERFLOW_LEN 28

/* Attach (RECORDS.md 3.2). Returns 0 or prints the failed check and returns -1. */
static int attach(struct ring *r, uint8_t *base, uint64_t avail) {
#define REFUSE(...) do { fprintf(stderr, "refused: " __VA_ARGS__); fputc('\n', stderr); return -1; } while (0)
    if ((uintptr_t)base % 128) REFUSE("check 1: misaligned");
    if (avail < HEADER_LEN) REFUSE("check 2: region too short");
    if (atomic_load_explicit((_Atomic uint64_t *)(void *)base, memory_order_acquire) != MAGIC)
        REFUSE("check 3: magic");
    if (ld32(base + H_MAJOR) != 1) REFUSE("check 4: version");
    uint32_t header_len = ld32(base + H_HEADER_LEN);
    if (header_len < HEADER_LEN || header_len > avail) REFUSE("check 5: header_len");
    uint64_t incompat = ld64(base + H_INCOMPAT);
    if (!(incompat & INCOMPAT_RECORDS)) REFUSE("R6: not a record ring");
    if (incompat &
        ~(INCOMPAT_RECORDS | INCOMPAT_WAIT | INCOMPAT_PRODUCERS | INCOMPAT_RECORD_OVERFLOW |
          INCOMPAT_RELEASE_END))
        REFUSE("R6b: incompat bits 0x%" PRIx64, incompat);
    if (ld64(base + H_RO_COMPAT)) REFUSE("check 7: ro_compat");
    uint32_t mode = ld32(base + H_MODE);
    if (mode > 1) REFUSE("R8: mode %u", mode);
    uint32_t cap = ld32(base + H_CAPACITY);
    if (cap < MIN_DATA_CAPACITY || cap > MAX_DATA_CAPACITY || (cap & (cap - 1)))
        REFUSE("R9: capacity %u", cap);
    if (ld32(base + H_FORMAT) != RECORDS_V1) REFUSE("R10: entry_format");
    if (ld32(base + H_SIZE) != 0 || ld32(base + H_ALIGN) != 8) REFUSE("R11: size/align");
    if (ld32(base + H_STRIDE) != 1 || ld32(base + H_PAYLOAD_OFFSET) != 8) REFUSE("R13: stride");
    uint64_t region_len = ld64(base + H_REGION_LEN);
    if (region_len > avail) REFUSE("check 14: region_len");
    if (region_len < header_len) REFUSE("check 15: region_len");
    uint64_t off[8], len[8];
    for (int i = 0; i < 8; i++) {
        off[i] = ld64(base + H_BLOCKS + 16 * i);
        len[i] = ld64(base + H_BLOCKS + 16 * i + 8);
        if (off[i] == 0 && len[i] == 0) continue;
        if (len[i] == 0 || off[i] % 128 || off[i] < header_len || off[i] + len[i] < off[i] ||
            off[i] + len[i] > region_len)
            REFUSE("check 16: row %d", i);
        for (int j = 0; j < i; j++)
            if (len[j] && off[i] < off[j] + len[j] && off[j] < off[i] + len[i])
                REFUSE("check 17: row %d overlaps row %d", i, j);
    }
    uint32_t ocap = ld32(base + H_OVERFLOW_CAPACITY);
    int has_ovf = (incompat & INCOMPAT_RECORD_OVERFLOW) != 0;
    if (has_ovf) {
        if (ocap < MIN_DATA_CAPACITY || ocap > MAX_DATA_CAPACITY || (ocap & (ocap - 1)))
            REFUSE("overflow_capacity %u", ocap);
        if (!(incompat & INCOMPAT_PRODUCERS))
            REFUSE("INCOMPAT_RECORD_OVERFLOW without INCOMPAT_PRODUCERS");
    } else if (ocap != 0) {
        REFUSE("overflow_capacity %u without INCOMPAT_RECORD_OVERFLOW", ocap);
    }
    uint32_t slots = ld32(base + H_PRODUCER_SLOTS);
    uint64_t plen = 0;
    if (incompat & INCOMPAT_PRODUCERS) {
        if (slots < 1 || slots > 4096) REFUSE("check 19: producer_slots");
        plen = 128ull * (1 + slots);
    } else if (slots) {
        REFUSE("check 19: producer_slots");
    }
    uint64_t want[6] = {128, 128, cap, has_ovf ? 128ull + ocap : 0,
                        (incompat & INCOMPAT_WAIT) ? 128 : 0, plen};
    for (int i = 0; i < 6; i++)
        if (len[i] != want[i]) REFUSE("checks 20-23: row %d length", i);
    memset(r, 0, sizeof *r);
    r->base = base;
    r->mode = mode;
    r->owner_word = base + off[1] + 4;
    r->d.data = base + off[2];
    r->d.cap = cap;
    r->d.mask = cap - 1;
    r->d.multi = mode == 1;
    r->d.tail_word = base + off[0];
    r->d.head_word = base + off[1];
    r->d.release_word = base + off[1] + 8;
    r->d.finish = (incompat & INCOMPAT_RELEASE_END) != 0;
    r->has_ovf = has_ovf;
    if (has_ovf) {
        /* Row 3: the overflow line (state at 0, head at 8), then the overflow data area. The
         * overflow area is always read by the MPSC rules (section 13.1). */
        r->o.data = base + off[3] + 128;
        r->o.cap = ocap;
        r->o.mask = ocap - 1;
        r->o.multi = 1;
        r->o.tail_word = base + off[3];
        r->o.head_word = base + off[3] + 8;
        r->o.release_word = base + off[3] + 12;
        r->o.finish = (incompat & INCOMPAT_RELEASE_END) != 0;
        r->o.overflow = 1;
    }
    if (incompat & INCOMPAT_PRODUCERS) {
        registry = base + off[5];
        records = base + off[5] + 128;
        nrecords = slots;
        discarded_word = base + off[0] + 24;
    }
    return 0;
#undef REFUSE
}

static uint32_t tail_pos(const struct lane *l) {
    return (uint32_t)atomic_load_explicit((_Atomic uint64_t *)(void *)l->tail_word,
                                          memory_order_acquire);
}

static uint64_t header_at(const struct lane *l, uint32_t p) {
    return atomic_load_explicit((_Atomic uint64_t *)(void *)(l->data + (p & l->mask)),
                                memory_order_acquire);
}

static uint32_t rsize(uint32_t len) { return 8u + ((len + 7u) & ~7u); }

/* Section 7.3: whether the zero word at `h` (below the validated producer position) is space a
 * dead consumer released rather than a reservation. Every reserver stores its intent (length,
 * then start, Release) before the compare-and-swap that our Acquire load of the producer
 * position saw, and changes it only after committing: so if no record with an owner has an
 * intent covering `h` (start, then length, then owner, Acquire each) and the word still reads
 * 0 afterwards, nobody reserved it. Without producer records a zero word stays pending. */
static int released_word(const struct lane *l, uint32_t h) {
    if (!records) return 0;
    for (uint32_t i = 0; i < nrecords; i++) {
        uint8_t *rec = records + 128ull * i;
        uint32_t start = atomic_load_explicit(
            (_Atomic uint32_t *)(void *)(rec + (l->overflow ? R_OVERFLOW_START : R_RING_START)),
            memory_order_acquire);
        uint32_t len = atomic_load_explicit(
            (_Atomic uint32_t *)(void *)(rec + (l->overflow ? R_OVERFLOW_LEN : R_RING_LEN)),
            memory_order_acquire);
        uint32_t owner = atomic_load_explicit((_Atomic uint32_t *)(void *)(rec + R_OWNER),
                                              memory_order_acquire);
        if (owner != 0 && (uint32_t)(h - start) < len) return 0;
    }
    return header_at(l, h) == 0;
}

/* MC3/RO6, one record at `p` of `size` bytes with header word `w`, in the order section 7.3
 * recommends: the header marked DISCARD (a successor that finds the record partly zeroed skips
 * it by its size instead of delivering it again), the other words zeroed, the header word
 * last. Relaxed atomic stores: the caller's Release store of `head` publishes them. */
static void zero_record(struct lane *l, uint32_t p, uint32_t size, uint64_t w) {
    _Atomic uint64_t *at = (_Atomic uint64_t *)(void *)(l->data + (p & l->mask));
    /* MC3: announce the record's end in `release_end` before zeroing any of its words. */
    atomic_store_explicit((_Atomic uint32_t *)(void *)l->release_word, p + size,
                          memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    if (size > 8 && !(w & DISCARD)) atomic_store_explicit(at, w | DISCARD, memory_order_relaxed);
    for (uint32_t k = 1; k < size / 8; k++) atomic_store_explicit(at + k, 0, memory_order_relaxed);
    atomic_store_explicit(at, 0, memory_order_relaxed);
}

/* The start checks (sections 3.2 and 13.1): head, then the producer position (Acquire),
 * at most `cap` apart, both multiples of 8. */
static int lane_start(struct lane *l) {
    uint32_t h = atomic_load_explicit((_Atomic uint32_t *)(void *)l->head_word,
                                      memory_order_acquire);
    uint32_t t = tail_pos(l);
    if ((uint32_t)(t - h) > l->cap || h % 8 || t % 8) return -1;
    l->head = l->stored = h;
    l->tail = t;
    if (l->multi && l->finish) {
        /* Section 7.3: finish the release of a consumer that died while zeroing. Every byte
         * of [head, release_end) was consumed by it: zero it and store `head` there. Only
         * with INCOMPAT_RELEASE_END: without it a consumer that does not maintain the word
         * may have left any stale value there. */
        uint32_t e = atomic_load_explicit((_Atomic uint32_t *)(void *)l->release_word,
                                          memory_order_acquire);
        uint32_t n = e - h;
        if (n != 0 && n <= t - h && e % 8 == 0) {
            for (uint32_t k = 0; k < n; k += 8)
                atomic_store_explicit((_Atomic uint64_t *)(void *)(l->data + ((h + k) & l->mask)),
                                      0, memory_order_relaxed);
            l->head = l->stored = e;
            atomic_store_explicit((_Atomic uint32_t *)(void *)l->head_word, e,
                                  memory_order_release);
            fprintf(stderr, "finished a dead consumer's release up to %u\n", e);
        }
    }
    return 0;
}

enum next { GOT, EMPTY, PENDING, BAD };

/* RC1/RC2 (MC1/MC2): find the next deliverable record at the lane's private head, skipping
 * padding and discarded records (zeroing them under the MPSC rules). */
static enum next next_record(struct lane *l, const char *area, uint32_t *len, uint32_t *type) {
    int reloads = 0;
    for (;;) {
        uint32_t h = l->head;
        if (h == l->tail) {
            /* RC2's bound: at most two reloads of the producer position per call. */
            if (reloads++ == 2) return EMPTY;
            uint32_t t = tail_pos(l);
            if ((uint32_t)(t - h) > l->cap || t % 8) {
                fprintf(stderr, "%s: positions out of range: tail %u head %u\n", area, t, h);
                return BAD;
            }
            l->tail = t;
            if (t == h) return EMPTY;
        }
        uint64_t w = header_at(l, h);
        /* Pending (sections 7 and 7.2): nothing written yet, BUSY for this position, or a
         * header left at this offset for an earlier lap. */
        if (l->multi && (w == 0 || ((uint32_t)w == h && (w & BUSY)) ||
                         ((uint32_t)w != h && ((h - (uint32_t)w) & l->mask) == 0))) {
            if (w == 0 && released_word(l, h)) {
                /* Section 7.3: zeroed by a consumer that died before storing `head`. */
                l->head = h + 8;
                continue;
            }
            return PENDING;
        }
        uint32_t ln = (uint32_t)(w >> LEN_SHIFT) & 0xffffffu;
        uint32_t ty = (uint32_t)((w >> TYPE_SHIFT) & TYPE_MASK);
        uint32_t s = rsize(ln), o = h & l->mask;
        if (ty == T_NONE || (uint32_t)w != h || (w & BUSY) || s > (uint32_t)(l->tail - h) ||
            o + s > l->cap || (ty == T_PAD ? s != l->cap - o : s > l->cap / 2)) {
            fprintf(stderr, "%s: invalid header 0x%016" PRIx64 " at %u\n", area, w, h);
            return BAD;
        }
        if (ty == T_PAD || (w & DISCARD)) {
            if (l->multi) zero_record(l, h, ty == T_PAD ? 8 : s, w);
            l->head = h + s;
            continue;
        }
        *len = ln;
        *type = ty;
        return GOT;
    }
}

/* RO7: clear ACTIVE if every reserved overflow position is consumed, by compare-and-swap from
 * the very value checked; a failure means a producer reserved in between. The overflow head
 * is stored by then. */
static void deactivate(struct lane *o) {
    _Atomic uint64_t *state = (_Atomic uint64_t *)(void *)o->tail_word;
    uint64_t s = atomic_load_explicit(state, memory_order_acquire);
    if ((s & OVERFLOW_ACTIVE) && (uint32_t)s == o->head)
        atomic_compare_exchange_strong_explicit(state, &s, s & ~OVERFLOW_ACTIVE,
                                                memory_order_acq_rel, memory_order_relaxed);
}

/* RC3/MC3/RO6: store the private head (Release) if it moved; on the overflow lane, having
 * released everything up to the last producer position loaded, RO7. */
static void flush(struct lane *l, int overflow) {
    if (l->head == l->stored) return;
    l->stored = l->head;
    atomic_store_explicit((_Atomic uint32_t *)(void *)l->head_word, l->head,
                          memory_order_release);
    if (overflow && l->head == l->tail) deactivate(l);
}

/* One step of the consumer over both areas: the next deliverable record, in *which the lane
 * it is in (RC1-RC2/MC1-MC2, then RO5). */
static enum next next_any(struct ring *r, struct lane **which, uint32_t *len, uint32_t *type) {
    *which = &r->d;
    enum next n = next_record(&r->d, "data area", len, type);
    if (n != EMPTY || !r->has_ovf) return n;
    /* RO5: the data area reads empty (a pending or invalid data area was reported as it
     * is). */
    for (int round = 0; round < 2; round++) {
        n = next_record(&r->o, "overflow area", len, type);
        if (n == EMPTY) {
            /* RO7 when the overflow area reads empty. */
            flush(&r->o, 0);
            deactivate(&r->o);
            return EMPTY;
        }
        if (n != GOT) return n;
        /* After the overflow header's Acquire load: the data area's tail (Acquire). Only
         * if nothing is reserved there beyond our head is the overflow record next. */
        if (tail_pos(&r->d) == r->d.head) {
            *which = &r->o;
            return GOT;
        }
        /* A record was reserved in the data area meanwhile: it goes first. */
        n = next_record(&r->d, "data area", len, type);
        if (n != EMPTY) return n;
    }
    return EMPTY;
}

static uint64_t get_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Checks a completion payload against the pattern; returns the producer or -1. */
static int check(const uint8_t *b, uint32_t len, uint64_t *next, uint32_t producers) {
    if (len < 16) return -1;
    uint64_t ud = get_le(b, 8);
    uint32_t p = (uint32_t)(ud >> 32), seq = (uint32_t)ud;
    if (p >= producers || seq != next[p]) {
        fprintf(stderr, "out of order: producer %u seq %u, expected %" PRIu64 "\n", p, seq,
                p < producers ? next[p] : 0);
        return -1;
    }
    if ((int32_t)get_le(b + 8, 4) != (int32_t)seq || get_le(b + 12, 4) != p) return -1;
    int have_duration = 0, have_cpu = 0;
    for (uint32_t a = 16; a < len;) {
        if (len - a < 4) return -1;
        uint32_t id = (uint32_t)get_le(b + a, 2), status = b[a + 2], vlen = b[a + 3];
        uint32_t size = (4 + vlen + 7) & ~7u;
        if (id == 0 || status == 0 || size > len - a) return -1;
        const uint8_t *v = b + a + 4;
        if (id == 1) {
            if (status != 4 || vlen != 8 || get_le(v, 8) != (uint64_t)seq * 3) return -1;
            have_duration = 1;
        } else if (id == 4) {
            if (status != 4 || vlen != 4 || get_le(v, 4) != p) return -1;
            have_cpu = 1;
        } else if (id == 0x8001) {
            if (vlen != seq % 5) return -1;
            for (uint32_t i = 0; i < vlen; i++)
                if (v[i] != (uint8_t)(seq + i)) return -1;
        } /* any other id: unknown, skipped */
        a += size;
    }
    if (!have_duration || !have_cpu) return -1;
    next[p]++;
    return (int)p;
}

/* LAYOUT.md section 11, "alive or dead": a token above 2^31 - 1 is no process; kill(pid, 0)
 * failing with ESRCH means gone; a zombie (state Z or X in /proc/<pid>/stat, the first field
 * after the last ')') is dead too. */
static int alive(uint32_t pid) {
    if (pid > 0x7fffffffu) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *paren = strrchr(buf, ')');
    if (paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X')) return 0;
    return 1;
}

/* Takes the consumer claim word (LAYOUT.md section 11): at most 4 compare-and-swaps, starting
 * from 0; a dead holder's token is replaced (takeover), a live one (or our own) refuses. */
static int claim(uint8_t *owner_word, uint32_t me, const char *what) {
    _Atomic uint32_t *w = (_Atomic uint32_t *)(void *)owner_word;
    uint32_t expect = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t cur = expect;
        if (atomic_compare_exchange_strong_explicit(w, &cur, me, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            if (expect != 0)
                fprintf(stderr, "took over the %s claim of dead process %u\n", what, expect);
            return 0;
        }
        if (cur != 0 && (cur == me || alive(cur))) {
            fprintf(stderr, "%s claim held by %u\n", what, cur);
            return -1;
        }
        expect = cur; /* free again (0) or a dead holder: try once more */
    }
    fprintf(stderr, "%s claim held by %u\n", what, atomic_load_explicit(w, memory_order_acquire));
    return -1;
}

/* LAYOUT.md section 14.2: the owner's start time, field 22 of /proc/<pid>/stat; 0 if it cannot
 * be read. */
static uint64_t start_time_of(uint32_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    if (!s) return 0;
    /* Field 3 (state) follows ") "; field 22 is 19 fields further on. */
    s += 2;
    for (int field = 3; field < 22; field++) {
        s = strchr(s, ' ');
        if (!s) return 0;
        s++;
    }
    return strtoull(s, NULL, 10);
}

/* LAYOUT.md section 14.2, "An owner is dead": section 11's test, and a start time that is
 * known on both sides and differs. */
static int owner_alive(uint32_t owner, uint64_t start_time) {
    if (!alive(owner)) return 0;
    if (start_time == 0) return 1;
    uint64_t now = start_time_of(owner);
    return now == 0 || now == start_time;
}

static uint32_t ld32a(const uint8_t *p) {
    return atomic_load_explicit((_Atomic uint32_t *)(void *)p, memory_order_acquire);
}

/* One producer record as RR4 reads it: each intent's start before its length, then the owner
 * and its start time (Acquire each). */
struct seen {
    uint32_t owner;
    int alive;
    uint32_t start[2], len[2]; /* [0] the data area intent, [1] the overflow intent */
};
static struct seen seen[4096];

static void load_records(void) {
    for (uint32_t i = 0; i < nrecords; i++) {
        uint8_t *rec = records + 128ull * i;
        struct seen *x = &seen[i];
        x->start[0] = ld32a(rec + R_RING_START);
        x->len[0] = ld32a(rec + R_RING_LEN);
        x->start[1] = ld32a(rec + R_OVERFLOW_START);
        x->len[1] = ld32a(rec + R_OVERFLOW_LEN);
        x->owner = ld32a(rec + R_OWNER);
        uint64_t st = atomic_load_explicit((_Atomic uint64_t *)(void *)(rec + R_START_TIME),
                                           memory_order_acquire);
        x->alive = x->owner != 0 && owner_alive(x->owner, st);
    }
}

static int covers(const struct seen *x, uint32_t p, int ovf) {
    return x->owner != 0 && (uint32_t)(p - x->start[ovf]) < x->len[ovf];
}

static uint64_t make_header(uint32_t seq, uint32_t len, uint32_t type, uint64_t flags) {
    return (uint64_t)seq | (uint64_t)len << LEN_SHIFT | (uint64_t)type << TYPE_SHIFT | flags;
}

/* RR4 over one lane, from `head` to `tail` (loaded in that order, Acquire): commits as
 * discarded every pending record that no live producer's intent covers. Returns where the walk
 * stopped (a dead record whose intent reaches into [stop, tail) keeps it: RR5). */
static uint32_t rr4_walk(struct lane *l, uint32_t head, uint32_t tail, uint64_t *positions) {
    if ((uint32_t)(tail - head) > l->cap || head % 8 || tail % 8) return tail;
    int ovf = l->overflow, loaded = 0;
    uint32_t p = head, steps = 0;
    _Atomic uint64_t *word;
    while (p != tail && steps++ <= l->cap / 8 + 64) {
        word = (_Atomic uint64_t *)(void *)(l->data + (p & l->mask));
        uint64_t w = atomic_load_explicit(word, memory_order_acquire);
        int pending = w == 0 || ((uint32_t)w == p && (w & BUSY));
        uint32_t off = p & l->mask;
        if (!pending) {
            uint32_t size = rsize((uint32_t)(w >> LEN_SHIFT) & 0xffffffu);
            if ((uint32_t)w != p || ((w >> TYPE_SHIFT) & TYPE_MASK) == T_NONE ||
                size > (uint32_t)(tail - p) || off + size > l->cap)
                break; /* invalid: the consumer reports it */
            p += size;
            continue;
        }
        /* The records, read once per lane, after this lane's positions. */
        if (!loaded) { load_records(); loaded = 1; }
        int live = 0;
        for (uint32_t i = 0; i < nrecords; i++)
            if (seen[i].alive && covers(&seen[i], p, ovf)) live = 1;
        if (live) {
            /* A live producer is writing it: step over it if its BUSY header gives its size. */
            if (w != 0) {
                uint32_t size = rsize((uint32_t)(w >> LEN_SHIFT) & 0xffffffu);
                if (size <= (uint32_t)(tail - p) && off + size <= l->cap) {
                    p += size;
                    continue;
                }
            }
            break;
        }
        /* Its reserver is dead: the span from the dead intents covering `p`, if they agree. */
        int found = 0, ambiguous = 0;
        uint32_t s0 = 0, n0 = 0;
        for (uint32_t i = 0; i < nrecords; i++) {
            if (seen[i].alive || !covers(&seen[i], p, ovf)) continue;
            if (!found) {
                s0 = seen[i].start[ovf];
                n0 = seen[i].len[ovf];
                found = 1;
            } else if (s0 != seen[i].start[ovf] || n0 != seen[i].len[ovf]) {
                ambiguous = 1;
            }
        }
        uint32_t end;
        if (found && !ambiguous) end = s0 + n0;
        else if (w != 0) end = p + rsize((uint32_t)(w >> LEN_SHIFT) & 0xffffffu);
        else break;
        uint32_t bytes = end - p;
        if (bytes < 8 || bytes > (uint32_t)(tail - p) || bytes % 8) break;
        /* A span that crosses the end of the area starts with the padding record its producer
         * did not write. */
        uint32_t pad = off + bytes > l->cap ? l->cap - off : 0;
        uint32_t rec_at = p + pad;
        if (pad && (pad < 8 || bytes - pad < 8)) break;
        uint64_t discard = make_header(rec_at, bytes - pad - 8, 2 /* DATA */, DISCARD);
        if (atomic_load_explicit(word, memory_order_acquire) != w) continue; /* look again */
        if (pad == 0) {
            uint64_t expect = w;
            if (!atomic_compare_exchange_strong_explicit(word, &expect, discard,
                                                         memory_order_release,
                                                         memory_order_relaxed))
                continue;
        } else {
            /* The record part's word must still be 0 (its producer died before MR3). */
            _Atomic uint64_t *rw = (_Atomic uint64_t *)(void *)(l->data + (rec_at & l->mask));
            uint64_t zero = 0;
            if (!atomic_compare_exchange_strong_explicit(rw, &zero, discard,
                                                         memory_order_release,
                                                         memory_order_relaxed))
                break;
            uint64_t expect = w;
            if (!atomic_compare_exchange_strong_explicit(
                    word, &expect, make_header(p, pad - 8, T_PAD, 0), memory_order_release,
                    memory_order_relaxed))
                continue;
        }
        (*positions)++;
        p = end;
    }
    return p;
}

/* RR5's exception: whether the intent (start, len) may still name pending bytes of a lane
 * whose walk stopped at `stop` short of `tail`. */
static int still_needed(uint32_t stop, uint32_t tail, uint32_t start, uint32_t len) {
    uint32_t left = tail - stop;
    return left != 0 && len != 0 && ((uint32_t)(start - stop) < left || (uint32_t)(stop - start) < len);
}

/* Recovery of dead producers (sections 7.2 and 13.5, RR3-RR5; PROTOCOL.md R3-R5), run by the
 * reader when a pending record has held it up for 100 ms. Returns -1 when another live process
 * is recovering (or the ring has no producer records), else 0, with what it did. */
static int recover(struct ring *r, uint64_t *positions, uint64_t *freed) {
    *positions = *freed = 0;
    if (!registry) return -1;
    /* RR3: the `recoverer` claim word, taken like a claim word (a dead holder taken over). */
    if (claim(registry + G_RECOVERER, (uint32_t)getpid(), "recoverer") != 0) return -1;
    uint32_t stop[2] = {0, 0}, tail[2] = {0, 0};
    int walked[2] = {0, 0};
    if (r->mode == 1) {
        /* RR4 over the data area (an SPSC data area never holds a pending record). */
        uint32_t h = ld32a(r->d.head_word);
        tail[0] = tail_pos(&r->d);
        stop[0] = rr4_walk(&r->d, h, tail[0], positions);
        walked[0] = 1;
    }
    if (r->has_ovf) {
        /* Then over the overflow area, with the records' overflow intents. */
        uint32_t h = ld32a(r->o.head_word);
        tail[1] = tail_pos(&r->o);
        stop[1] = rr4_walk(&r->o, h, tail[1], positions);
        walked[1] = 1;
    }
    /* RR5: free the records of dead owners, except one whose intent reaches into the part of
     * a lane the walk did not get to. */
    for (uint32_t i = 0; i < nrecords; i++) {
        uint8_t *rec = records + 128ull * i;
        uint32_t owner = ld32a(rec + R_OWNER);
        uint64_t st = atomic_load_explicit((_Atomic uint64_t *)(void *)(rec + R_START_TIME),
                                           memory_order_acquire);
        if (owner == 0 || owner_alive(owner, st)) continue;
        int keep = 0;
        for (int k = 0; k < 2; k++)
            if (walked[k] && still_needed(stop[k], tail[k],
                                          ld32a(rec + (k ? R_OVERFLOW_START : R_RING_START)),
                                          ld32a(rec + (k ? R_OVERFLOW_LEN : R_RING_LEN))))
                keep = 1;
        if (keep) continue;
        /* Release: a consumer that reads the intent gone (section 7.3) also sees the
         * discarded records committed above. */
        atomic_store_explicit((_Atomic uint32_t *)(void *)(rec + R_RING_LEN), 0,
                              memory_order_release);
        atomic_store_explicit((_Atomic uint32_t *)(void *)(rec + R_OVERFLOW_LEN), 0,
                              memory_order_release);
        atomic_store_explicit((_Atomic uint64_t *)(void *)(rec + R_START_TIME), 0,
                              memory_order_relaxed);
        uint32_t expect = owner;
        if (atomic_compare_exchange_strong_explicit((_Atomic uint32_t *)(void *)(rec + R_OWNER),
                                                    &expect, 0, memory_order_release,
                                                    memory_order_relaxed))
            (*freed)++;
    }
    /* R5.2 and R5.3: the counters, then the claim back. */
    atomic_fetch_add_explicit((_Atomic uint64_t *)(void *)discarded_word, *positions,
                              memory_order_relaxed);
    atomic_fetch_add_explicit((_Atomic uint64_t *)(void *)(registry + G_RECOVERED), *positions,
                              memory_order_relaxed);
    atomic_fetch_add_explicit((_Atomic uint64_t *)(void *)(registry + G_RECLAIMED), *freed,
                              memory_order_relaxed);
    atomic_fetch_add_explicit((_Atomic uint64_t *)(void *)(registry + G_RECOVERIES), 1,
                              memory_order_relaxed);
    uint32_t mine = (uint32_t)getpid();
    atomic_compare_exchange_strong_explicit((_Atomic uint32_t *)(void *)(registry + G_RECOVERER),
                                            &mine, 0, memory_order_release,
                                            memory_order_relaxed);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: records_reader <shm-name> <count> <producers> [--timeout=s]\n");
        return 2;
    }
    uint64_t count = strtoull(argv[2], NULL, 10);
    uint32_t producers = (uint32_t)strtoul(argv[3], NULL, 10);
    double timeout = 60;
    uint64_t next[64] = {0};
    if (producers == 0 || producers > 64) return 2;
    for (int i = 4; i < argc; i++) {
        if (strncmp(argv[i], "--timeout=", 10) == 0) {
            timeout = atof(argv[i] + 10);
        } else if (strncmp(argv[i], "--from=", 7) == 0) {
            char *s = argv[i] + 7;
            for (uint32_t p = 0; p < producers; p++) {
                next[p] = strtoull(s, &s, 10);
                if (*s == ',') s++;
            }
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    char path[512];
    snprintf(path, sizeof path, "/dev/shm/%s", argv[1]);
    int fd = open(path, O_RDWR);
    if (fd < 0) { perror(path); return 2; }
    struct stat st;
    if (fstat(fd, &st) != 0) { perror("fstat"); return 2; }
    uint8_t *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 2; }
    struct ring r;
    if (attach(&r, base, (uint64_t)st.st_size) != 0) return 3;
    uint32_t me = (uint32_t)getpid();
    if (claim(r.owner_word, me, "consumer") != 0) return 4;
    if (lane_start(&r.d) != 0 || (r.has_ovf && lane_start(&r.o) != 0)) {
        fprintf(stderr, "start: positions out of range\n");
        uint32_t mine = me;
        atomic_compare_exchange_strong_explicit((_Atomic uint32_t *)(void *)r.owner_word, &mine,
                                                0, memory_order_acq_rel, memory_order_relaxed);
        return 4;
    }
    uint64_t got = 0, from_ovf = 0;
    struct timespec t0, now, held = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    while (got < count) {
        uint32_t len = 0, type = 0;
        struct lane *l = &r.d;
        enum next n = next_any(&r, &l, &len, &type);
        if (n == BAD) { status = 1; break; }
        if (n == GOT) {
            uint32_t o = l->head & l->mask;
            if (type != T_COMPLETION || check(l->data + o + 8, len, next, producers) < 0) {
                fprintf(stderr, "record %" PRIu64 " at %u in the %s (type %u, len %u) does "
                        "not match\n", got, l->head, l == &r.o ? "overflow area" : "data area",
                        type, len);
                status = 1;
                break;
            }
            uint32_t s = rsize(len);
            /* MC3/RO6: zero, then release. */
            if (l->multi) zero_record(l, l->head, s, header_at(l, l->head));
            l->head += s;
            got++;
            from_ovf += l == &r.o;
        } else {
            if (n == PENDING) {
                /* Held up by a pending record: recovery every 100 ms (sections 7.2, 13.5). */
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (held.tv_sec == 0 && held.tv_nsec == 0) {
                    held = now;
                } else if ((double)(now.tv_sec - held.tv_sec) +
                               (double)(now.tv_nsec - held.tv_nsec) * 1e-9 >= 0.1) {
                    uint64_t positions, freed;
                    if (recover(&r, &positions, &freed) == 0 && (positions || freed))
                        fprintf(stderr,
                                "recovered %" PRIu64 " records of dead producers, freed %" PRIu64
                                " producer records\n",
                                positions, freed);
                    held = now;
                }
            } else {
                held.tv_sec = held.tv_nsec = 0;
            }
            sched_yield();
        }
        /* RC3/MC3/RO6: store each head (Release) after every step that moved it. */
        flush(&r.d, 0);
        if (r.has_ovf) flush(&r.o, 1);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) * 1e-9 >
            timeout) {
            fprintf(stderr, "timeout after %" PRIu64 " records\n", got);
            status = 1;
            break;
        }
    }
    if (status == 0) {
        uint32_t len, type;
        struct lane *l;
        enum next n = next_any(&r, &l, &len, &type);
        if (n != EMPTY) { fprintf(stderr, "more records than expected\n"); status = 1; }
        flush(&r.d, 0);
        if (r.has_ovf) flush(&r.o, 1);
    }
    uint32_t mine = me;
    atomic_compare_exchange_strong_explicit((_Atomic uint32_t *)(void *)r.owner_word, &mine, 0,
                                            memory_order_acq_rel, memory_order_relaxed);
    printf("records %" PRIu64 " head %u", got, r.d.head);
    for (uint32_t p = 0; p < producers; p++) printf(" p%u=%" PRIu64, p, next[p]);
    if (r.has_ovf) printf(" overflow %" PRIu64 " ohead %u", from_ovf, r.o.head);
    printf("\n");
    return status;
}
