/*
 * records.pml -- Promela model of the record (byte) ring protocols of spec/RECORDS.md as
 * ring-core implements them (ring-core/src/record/{spsc.rs, mpsc.rs, rx.rs}).
 *
 * Step names are the spec's: RP1-RP3 and RC1-RC3 (SPSC, section 6), MR1-MR4 and MC1-MC3
 * (MPSC, section 7), header validation (section 6.1). spec/VERIFICATION.md, section 9, says
 * what is checked; spec/model/check.sh runs it (configurations named rec-*).
 *
 * MEMORY MODEL. As ring.pml: every shared access is one step under sequential consistency;
 * orderings are loom's job (loom-tests/tests/records.rs runs the shipped code).
 *
 * UNITS. A position counts 8-byte units ("words"): every record, position and size in the
 * code is a multiple of 8 bytes (RECORD_ALIGN), so word positions lose nothing. The data area
 * is CAPW words (CAPW = 4 is the smallest area the code accepts, 32 bytes); positions are
 * IDX_BITS-bit numbers and every wrapping_add/wrapping_sub is taken mod 2^IDX_BITS, so the
 * position wrap happens every 2^IDX_BITS / CAPW laps (2 by default: the ABA distance is
 * reachable). The MPSC tail word carries a reservation count of CNT_BITS bits.
 *
 * A DATA WORD is one int that packs what an 8-byte unit of the data area holds:
 *   seq (4 bits) | len (2 bits: payload words) | type (2 bits) | BUSY | DISCARD | ghost id
 * type 0 is NONE (a zero word is all-zero), 1 PAD, 2 DATA, 3 a payload word: bytes that are
 * not a header (read as a header they are a non-zero word of type NONE, which validation
 * rejects). The ghost id (1..NV) names the record a header or payload word belongs to; the
 * protocol never reads it, the assertions do.
 *
 * Modelled: SPSC (private indices, padding header + record header before the Release of
 * `tail`), MPSC (reservation by compare-and-swap of {position, count}, padding header stored at
 * once, BUSY header, payload, committed header; the consumer's pending rule, zeroing of
 * released records before `head` is stored), discarded records (DISCARD = 1: a producer may
 * commit a reservation as discarded), records of 0..MAXP payload words (size 1..MAXP+1 words,
 * at most CAPW / 2 as the code's max_record_len), the padding record at the end of the area.
 * Not modelled: memory ordering; producer records and recovery (RR1-RR5, covered by loom and
 * ring-core/tests/records.rs); a consumer killed between zeroing and storing head (7.3); the
 * wait block; hostile peers (every corruption the code can report is an assertion failure
 * here); SCAN_BUDGET (the model retries without bound).
 *
 * Properties: every record the consumer delivers was committed (never a BUSY or unwritten
 * record), its payload words are its own (never a stale or half-written payload), no record is
 * delivered twice, each producer's records arrive in order, padding and discarded records are
 * never delivered, no header the consumer validates is invalid, and at the end every committed
 * record was delivered and every discarded one skipped (nothing lost). A consumer or producer
 * waiting for ever (a lost record, a wedged ring) is an invalid end state.
 */

/* ------------------------------------------------------------------ parameters */

#ifndef MODE
#define MODE 1              /* 0 SPSC, 1 MPSC */
#endif
#ifndef NPROD
#define NPROD 2
#endif
#ifndef NPUSH
#define NPUSH 2             /* records pushed by each producer ... */
#endif
#ifndef NPUSH0
#define NPUSH0 NPUSH        /* ... except producer 0 */
#endif
#ifndef CAPW
#define CAPW 4              /* data area in 8-byte words (a power of two, at least 4) */
#endif
#ifndef MAXP
#define MAXP 1              /* largest payload, in words: 1 + MAXP <= CAPW / 2 */
#endif
#ifndef IDX_BITS
#define IDX_BITS 3          /* width of a position (at most 4: the packed word's seq field) */
#endif
#ifndef CNT_BITS
#define CNT_BITS 3          /* width of the MPSC reservation count */
#endif
#ifndef INIT
#define INIT (IDXMOD - 3)   /* initial position: offset 1, three words before the wrap */
#endif
#ifndef DISCARD
#define DISCARD 0           /* 1: a producer may commit its reservation as discarded */
#endif

#define IDXMOD (1 << IDX_BITS)
#define CNTMOD (1 << CNT_BITS)
#define NV (NPUSH0 + (NPROD - 1) * NPUSH)   /* records in a run */

#define ADD(a, b) (((a) + (b)) % IDXMOD)
#define DIST(from, to) (((to) - (from) + IDXMOD) % IDXMOD)   /* wrapping to - from */
#define OFF(p) ((p) % CAPW)

/* word types */
#define T_NONE 0
#define T_PAD 1
#define T_DATA 2
#define T_PAYLOAD 3

#define W(seq, len, ty, busy, disc, id) \
    ((seq) + 16 * ((len) + 4 * ((ty) + 4 * ((busy) + 2 * ((disc) + 2 * (id))))))
#define SEQ(x) ((x) % 16)
#define LEN(x) (((x) / 16) % 4)
#define TYP(x) (((x) / 64) % 4)
#define BSY(x) (((x) / 256) % 2)
#define DSC(x) (((x) / 512) % 2)
#define GID(x) ((x) / 1024)

/* ------------------------------------------------------------------ shared state */

int w[CAPW];                /* the data area, word by word */
byte tailpos = INIT;        /* producer position (the tail word's low half) */
byte tailcnt = 0;           /* reservation count (the tail word's high half; MPSC) */
byte head = INIT;           /* consumer position */

/* ghosts */
bit g_committed[NV + 1];    /* committed as a record (MR4 / RP3) */
bit g_discarded[NV + 1];    /* committed as discarded */
bit g_delivered[NV + 1];
byte g_last[NPROD];         /* per producer: the last id delivered (0: none) */
byte g_consumed = 0;        /* data and discarded records consumed */
bit g_done = 0;             /* the consumer checked the end */

/* ------------------------------------------------------------------ producers */

/* MR1's head cache: trusted only while `t - head_cache <= capacity` AND the reservation count
 * moved by less than IDXMOD / CAPW - 1 since the cache was loaded (each reservation is at most
 * CAPW words, so a younger cache is less than IDXMOD words behind). Without the age rule
 * (NO_HC_FRESH, the mutant spin-rec-stale-head-cache) a cache older than a whole index space
 * (an idle producer) passes the distance check although the real distance is larger: the
 * producer reserves without room and overwrites unconsumed records (VERIFICATION.md,
 * section 9). */
#ifndef NO_HC_FRESH
#define HC_STALE(c) ((((c) - hcc + CNTMOD) % CNTMOD) >= IDXMOD / CAPW - 1)
#else
#define HC_STALE(c) false
#endif

/* the id of producer `who`'s record number `i` (1-based ids, NPUSH0 for producer 0) */
#define ID(who, i) ((who) == 0 -> (i) + 1 : NPUSH0 + ((who) - 1) * NPUSH + (i) + 1)

proctype Producer(byte me; byte n) {
    byte i = 0;
    byte t, c, hc, hcc, o, s, pad, need, p, lenw, k, id;
    bit disc;
    hc = INIT;      /* the head cache, loaded when the handle is made */
    hcc = 0;        /* the reservation count of the tail word loaded before it */
    do
    :: i < n ->
        id = ID(me, i);
        /* the record's payload length, in words */
        if
        :: lenw = 0
        :: MAXP >= 1 -> lenw = 1
        :: MAXP >= 2 -> lenw = 2
        :: MAXP >= 3 -> lenw = 3
        fi;
        s = 1 + lenw;
        assert(s <= CAPW / 2);     /* max_record_len */
#if MODE == 1
retry:
        /* MR1: load the tail word (Acquire) */
        atomic { t = tailpos; c = tailcnt };
        o = OFF(t);
        pad = (o + s > CAPW -> CAPW - o : 0);
        need = pad + s;
        if
        :: DIST(hc, t) > CAPW || need > CAPW - DIST(hc, t) || HC_STALE(c) ->
            atomic { hc = head; hcc = c }    /* Acquire */
        :: else -> skip
        fi;
        if
        :: DIST(hc, t) <= CAPW && need <= CAPW - DIST(hc, t) -> skip
        :: DIST(hc, t) <= CAPW && need > CAPW - DIST(hc, t) ->
            /* Full: the caller retries; here it waits until head or the tail word moves
             * (with positions this small, a t the consumer passed by CAPW words reads as
             * full: a refusal a retry corrects; with u32 positions the consumer would have
             * to pass t by 2^32 - capacity bytes) */
            (head != hc || tailpos != t || tailcnt != c);
            goto retry
        :: else -> goto retry      /* stale t: the consumer passed it */
        fi;
        /* MR2: compare-and-swap {t, c} -> {t + need, c + 1} (AcqRel) */
        atomic {
            if
#ifdef MUTANT_NO_COUNT
            :: tailpos == t ->
#else
            :: tailpos == t && tailcnt == c ->
#endif
                tailpos = ADD(t, need); tailcnt = (c + 1) % CNTMOD
            :: else -> goto retry
            fi
        };
        p = ADD(t, pad);
        /* MR3: the padding header (committed at once, Release), then the BUSY header */
        if
        :: pad > 0 -> w[o] = W(t, pad - 1, T_PAD, 0, 0, 0)
        :: else -> skip
        fi;
        w[OFF(p)] = W(p, lenw, T_DATA, 1, 0, id);
        /* the payload, word by word (plain) */
        k = 1;
        do
        :: k <= lenw -> w[OFF(p) + k] = W(0, 0, T_PAYLOAD, 0, 0, id); k++
        :: else -> break
        od;
        /* MR4: the committed header (Release); DISCARD when abandoned */
        if
        :: DISCARD -> disc = 1
        :: true -> disc = 0
        fi;
        atomic {
            w[OFF(p)] = W(p, lenw, T_DATA, 0, disc, id);
            if
            :: disc -> g_discarded[id] = 1
            :: else -> g_committed[id] = 1
            fi
        };
#else
        /* RP1: room against the cached head, else load head (Acquire) */
        t = tailpos;               /* our own index: private in the code */
        o = OFF(t);
        pad = (o + s > CAPW -> CAPW - o : 0);
        need = pad + s;
wait_room:
        if
        :: need > CAPW - DIST(hc, t) -> hc = head; assert(DIST(hc, t) <= CAPW)
        :: else -> skip
        fi;
        if
        :: need > CAPW - DIST(hc, t) -> (head != hc); goto wait_room    /* Full */
        :: else -> skip
        fi;
        p = ADD(t, pad);
        /* RP2: the payload in place */
        k = 1;
        do
        :: k <= lenw -> w[OFF(p) + k] = W(0, 0, T_PAYLOAD, 0, 0, id); k++
        :: else -> break
        od;
        if
        :: DISCARD -> disc = 1
        :: true -> disc = 0
        fi;
        /* RP3: the padding header, the record header (Relaxed), then tail (Release) */
        if
        :: pad > 0 -> w[o] = W(t, pad - 1, T_PAD, 0, 0, 0)
        :: else -> skip
        fi;
        w[OFF(p)] = W(p, lenw, T_DATA, 0, disc, id);
        atomic {
            tailpos = ADD(t, need);
            if
            :: disc -> g_discarded[id] = 1
            :: else -> g_committed[id] = 1
            fi
        };
#endif
        i++
    :: else -> break
    od
}

/* ------------------------------------------------------------------ the consumer */

/* MC2: a zero word, a BUSY header for this position, or a header left at this offset for an
 * earlier lap (section 7.2) is pending. MUTANT_BUSY_IGNORED: a BUSY header is taken as
 * committed. */
#ifdef MUTANT_BUSY_IGNORED
#define PENDING(x, h) ((x) == 0 || (SEQ(x) != (h) && DIST(SEQ(x), (h)) % CAPW == 0))
#else
#define PENDING(x, h) ((x) == 0 || (SEQ(x) == (h) && BSY(x)) || \
                       (SEQ(x) != (h) && DIST(SEQ(x), (h)) % CAPW == 0))
#endif

proctype Consumer() {
    byte h = INIT;             /* private head */
    byte stored = INIT;        /* the value of `head` last stored */
    byte tc = INIT;            /* cached tail position */
    byte o, s, k, id, owner;
    int x, y;
    bit skip_it;
    do
    :: g_consumed == NV -> break
    :: else ->
#if MODE == 1 && !defined(NO_MC1A)
        /* MC1a: with nothing cached, the header at h first (Acquire). A word that reads as a
         * committed record here (any type above PAD: a payload word left behind would pass too,
         * which only the zeroing of MC3 rules out) is delivered without loading tail; the
         * ghost assertion checks the claim that makes this sound: the real tail covers it. A
         * BUSY header for h is pending at once. Anything else: MC1. MUTANT_MC1A_BUSY: the
         * shortcut does not check BUSY. */
        if
        :: h == tc ->
            x = w[OFF(h)];
            o = OFF(h);
            s = 1 + LEN(x);
            if
#ifdef MUTANT_MC1A_BUSY
            :: SEQ(x) == h && !DSC(x) && TYP(x) != T_NONE && TYP(x) != T_PAD &&
#else
            :: SEQ(x) == h && !BSY(x) && !DSC(x) && TYP(x) != T_NONE && TYP(x) != T_PAD &&
#endif
               o + s <= CAPW && s <= CAPW / 2 ->
                assert(s <= DIST(h, tailpos) && DIST(h, tailpos) <= CAPW);
                tc = ADD(h, s);
                goto validate
            :: SEQ(x) == h && BSY(x) ->
                if
                :: stored != h -> head = h; stored = h
                :: else -> skip
                fi;
                (w[OFF(h)] != x);
                goto next
            :: else -> skip
            fi
        :: else -> skip
        fi;
#endif
        /* RC1 / MC1: reload tail when everything cached was consumed */
        if
        :: h == tc ->
            tc = tailpos;      /* Acquire */
            assert(DIST(h, tc) <= CAPW);
            if
            :: h == tc ->
                /* Empty: store head if it moved (flush), wait for the tail to move */
                if
                :: stored != h -> head = h; stored = h
                :: else -> skip
                fi;
                (tailpos != tc);
                goto next
            :: else -> skip
            fi
        :: else -> skip
        fi;
        /* RC2 / MC2: the header at h (Acquire) */
        x = w[OFF(h)];
        o = OFF(h);
#if MODE == 1
        if
        :: PENDING(x, h) ->
            /* Pending: flush, then wait until the word changes */
            if
            :: stored != h -> head = h; stored = h
            :: else -> skip
            fi;
            (w[OFF(h)] != x);
            goto next
        :: else -> skip
        fi;
#endif
validate:
        /* section 6.1: validation (an honest ring never fails it) */
        s = 1 + LEN(x);
        assert(TYP(x) == T_PAD || TYP(x) == T_DATA);
        assert(SEQ(x) == h);
#ifndef MUTANT_BUSY_IGNORED
        assert(!BSY(x));
#endif
        assert(s <= DIST(h, tc));
        assert(o + s <= CAPW);
        if
        :: TYP(x) == T_PAD -> assert(s == CAPW - o)
        :: else -> assert(s <= CAPW / 2)
        fi;
#ifdef MUTANT_PAD_NOT_SKIPPED
        skip_it = DSC(x);
#else
        skip_it = (TYP(x) == T_PAD || DSC(x));
#endif
        if
        :: skip_it ->
            /* padding or discarded: consumed, not delivered (MPSC zeroes it) */
            atomic {
                if
                :: TYP(x) == T_DATA ->
                    id = GID(x);
                    assert(g_discarded[id]);
                    g_consumed++
                :: else -> skip
                fi
            };
#if MODE == 1 && !defined(MUTANT_NO_ZERO)
            k = 0;
            do
            :: k < (TYP(x) == T_PAD -> 1 : s) -> w[o + k] = 0; k++
            :: else -> break
            od;
#endif
            h = ADD(h, s)
        :: else ->
            /* deliver: read the payload words and check that they are this record's */
            id = GID(x);
            assert(id >= 1 && id <= NV);
            assert(g_committed[id]);           /* never an uncommitted (BUSY) record */
            k = 1;
            do
            :: k < s -> y = w[o + k]; assert(TYP(y) == T_PAYLOAD && GID(y) == id); k++
            :: else -> break
            od;
            atomic {
                assert(!g_delivered[id]);      /* never twice */
                g_delivered[id] = 1;
                owner = (id <= NPUSH0 -> 0 : 1 + (id - NPUSH0 - 1) / NPUSH);
                assert(id > g_last[owner]);    /* each producer's records in order */
                g_last[owner] = id;
                g_consumed++
            };
            /* RC3 / MC3: zero (MPSC), then store head (Release) */
#if MODE == 1 && !defined(MUTANT_NO_ZERO)
            k = 0;
            do
            :: k < s -> w[o + k] = 0; k++
            :: else -> break
            od;
#endif
            h = ADD(h, s);
            head = h;
            stored = h
        fi;
next:
        skip
    od;
    /* the end: every committed record delivered, every discarded one skipped */
    atomic {
        k = 1;
        do
        :: k <= NV -> assert(g_delivered[k] == g_committed[k]); assert(g_committed[k] != g_discarded[k]); k++
        :: else -> break
        od;
        g_done = 1
    }
}

init {
    byte i;
    assert(CAPW >= 4 && (CAPW & (CAPW - 1)) == 0);
    assert(IDXMOD % CAPW == 0 && IDXMOD >= 2 * CAPW && IDX_BITS <= 4);
    assert(1 + MAXP <= CAPW / 2 && MAXP <= 3);
    assert(MODE == 1 || NPROD == 1);
    assert(NV <= 15);
    atomic {
        run Consumer();
        i = 0;
        do
        :: i < NPROD -> run Producer(i, (i == 0 -> NPUSH0 : NPUSH)); i++
        :: else -> break
        od
    }
}
