/*
 * ring.pml -- Promela model of the completion-ring protocols as ring-core implements them.
 *
 * Source of truth: ring-core/src/protocol/{mod.rs, spsc.rs, lap.rs, overflow.rs, wait.rs},
 * ring-core/src/ring.rs (Producer::push, Consumer::pop) and ring-core/src/blocking.rs
 * (Consumer::wait_for, the W2 loop). Step names (P1, MP2, O4, W2, ...) are the code's.
 * spec/VERIFICATION.md explains what is checked and how to run it (spec/model/check.sh).
 *
 * MEMORY MODEL. Spin explores interleavings of atomic steps under SEQUENTIAL CONSISTENCY: every
 * shared load and store below is one step, and every step sees the latest value of every
 * variable. The Acquire/Release/SeqCst orderings of the Rust code are therefore not modelled
 * here at all; a weakened ordering is loom's job (loom-tests/, which runs the shipped code).
 * This model checks the algorithm: wrapping arithmetic with small indices (every u32 of the
 * code is an IDX_BITS-bit number here, and every wrapping_add/wrapping_sub is taken mod 2^IDX_BITS),
 * the wrap and index ABA, the lap-tag classification, the overflow hand-over (O1..O6) and the
 * sleep/wake handshake (W1/W2) as deadlock and liveness.
 *
 * Granularity: each access to a shared word (index, lap tag, packed overflow state, payload,
 * wait word) is its own atomic step; purely local computation is folded into the step of the
 * shared access it follows. A compare-and-swap is one step. Ghost variables (prefix g_) are
 * updated inside the step whose effect they record and are never read by the protocol.
 *
 * Modelled:
 *  - the ring lane (unbiased lap tags) in the four modes: MODE 0 SPSC (P1/P2/C1/C2, indices
 *    only), 1 MPSC (MP1-MP4 + SC1/SC2), 2 SPMC (SP1/SP2 + MC1-MC4), 3 MPMC (MP + MC), with the
 *    re-checks after a compare-and-swap (MP3/MC3) and the "stale index or corruption" re-load;
 *  - the overflow area (OCAP > 0): BIASED lap tags exactly as stored (stored = tag - (pos & mask),
 *    so the zeroed words are the formatted state), the packed state word ACTIVE|tail changed
 *    only by compare-and-swap (O1-O3), O4 (overflow taken only when ring tail == head, checked
 *    after the overflow tags were read), O5, O6 (deactivation by CAS when tail == head);
 *  - batches (PBATCH / CBATCH = 2: push_all = exact, push_some = best effort; pop_into / view
 *    claims of 1 or 2 positions) and abandoned reservations (DISCARD: a WriteChunk dropped, or
 *    committed with fewer entries than reserved: published as discarded, or taken back by a
 *    single producer's ring reservation; consumers skip discarded slots);
 *  - the wait block (WAIT = 1): W1 after every publication that made something claimable
 *    (check waiters, bump the futex word, wake), the W2 loop of Consumer::wait_for with
 *    spin = 0 (count, announce, snapshot the futex word, re-check, sleep only while the futex
 *    word still holds the snapshot, retire), the count being that of Consumer::wait(min):
 *    RawRing::ready(cur, min), ending below min when RawRing::saturated; consumers wait as
 *    Consumer::reap does after a pop that found nothing (min = WMIN, or what is left to come).
 * Not modelled (see spec/VERIFICATION.md): memory ordering; handle creation and takeover
 * recovery; corruption by hostile peers (every Corruption the code can report is an assertion
 * failure here, since all participants are honest, except the SlotSequence that an index ABA
 * between two loads of an index can cause); the RETRY_BUDGET / SCAN_BUDGET bounds (the model
 * waits or retries without bound); spurious compare_exchange_weak failures; futex timeouts,
 * EINTR and spurious wake-ups; wait_beyond; counters; NO_WAKE and the eventfd.
 *
 * Properties (the named local bits of PROPS below; spec/VERIFICATION.md lists them): ghost
 * per-slot states (no overwrite of an unconsumed entry, no read of an unpublished one), a ghost
 * delivery log (each producer's entries exactly once and in order with one consumer; no
 * duplicate and per-consumer order with several), "nothing lost" (a claim that finds nothing in
 * a quiet ring means everything was delivered), invalid end states (a sleeper never woken, an
 * owner waiting for a tag for ever), and, with -DLIVENESS, the LTL property that every entry is
 * eventually delivered (pan -a -f: weak fairness).
 */

/* ------------------------------------------------------------------ parameters */

#ifndef IDX_BITS
#define IDX_BITS 3          /* width of every index, lap tag and futex word */
#endif
#ifndef CAP
#define CAP 2               /* ring capacity (the code requires 2..=2^(IDX_BITS-1)) */
#endif
#ifndef OCAP
#define OCAP 2              /* overflow capacity; 0: no overflow area */
#endif
#ifndef MODE
#define MODE 1              /* 0 SPSC, 1 MPSC, 2 SPMC, 3 MPMC (the header's mode word) */
#endif
#ifndef NPROD
#define NPROD 2
#endif
#ifndef NCONS
#define NCONS 1
#endif
#ifndef NPUSH
#define NPUSH 2             /* entries pushed by each producer ... */
#endif
#ifndef NPUSH0
#define NPUSH0 NPUSH        /* ... except producer 0 */
#endif
#ifndef PBATCH
#define PBATCH 1            /* 1: push only; 2: also push_all / push_some of 2 */
#endif
#ifndef CBATCH
#define CBATCH 1            /* 1: pop only; 2: also claims of 2 (pop_into / view) */
#endif
#ifndef WAIT
#define WAIT 0              /* 1: consumers sleep on the futex word when nothing is ready */
#endif
#ifndef SPSC_CACHE
#define SPSC_CACHE 1        /* SPSC: each side caches the other side's index (a3ae634) */
#endif
#ifndef WMIN
#define WMIN 1              /* the min of a waiting consumer's reap */
#endif
#ifndef DISCARD
#define DISCARD 0           /* reservations producer 0 abandons (published as discarded) */
#endif
#ifndef TARGET
#define TARGET 0            /* 1: wake-up targets (layout 1.3, W2T / W1T); needs WAIT */
#endif
#ifndef SNAP_FIRST
#define SNAP_FIRST 1        /* TARGET: 1 the sleeper snapshots the futex word before it announces
                               and arms its target (the code's order); 0 b6c41b4's order
                               (announce, arm, fence, snapshot), which loses a wake-up: a waker
                               can disarm the target between the arm and the snapshot */
#endif
#ifndef CLOSE
#define CLOSE 0             /* 1: end of stream (layout 1.3, E1-E4): producers leave after their
                               last publication, producer 0 closing; the consumer ends on E4 */
#endif
#if CLOSE && NCONS > 1
#error "CLOSE is modelled with one consumer"
#endif
#define DISC_OF(p) ((p) == 0 -> DISCARD : 0)
#define MOD   (1 << IDX_BITS)
#define IMASK (MOD - 1)
#ifndef INIT
#define INIT  (MOD - 2)     /* the ring's initial index: the ring wraps on the third entry */
#endif
#ifndef OINIT
#define OINIT (MOD - 1)     /* the overflow area's indices (a reachable state after OINIT spills) */
#endif

#if MODE == 1 || MODE == 3
#define MP 1
#else
#define MP 0
#endif
#if MODE >= 2
#define MC 1
#else
#define MC 0
#endif
#if OCAP > 0
#define OSZ OCAP
#else
#define OSZ 1
#endif

#define W(x)      ((x) & IMASK)                       /* u32 wrapping, at IDX_BITS bits */
#define MIN(a,b)  ((a) < (b) -> (a) : (b))
#define RMASK     (CAP - 1)
#define OMASK     (OSZ - 1)
#define ACTIVE    MOD                                 /* overflow_state::ACTIVE (bit 32) */
#define TMASK     IMASK                               /* overflow_state::TAIL_MASK */
#define NPUSH_OF(p) ((p) == 0 -> NPUSH0 : NPUSH)
#define TOTAL     (NPUSH0 + (NPROD - 1) * NPUSH)
#define VAL(p,s)  ((p) * 16 + (s) + 1)                /* payload: producer, sequence number */

/* Lap tags of lane l (0 ring, 1 overflow) as the code sees them (Lane::tag). */
#define RTAG(p)   seq[(p) & RMASK]
#define OTAG(p)   W(oseq[(p) & OMASK] + ((p) & OMASK))
#define TAG(l,p)  ((l) -> OTAG(p) : RTAG(p))
#define LCAP(l)   ((l) -> OCAP : CAP)
/* Ghost/payload index of the slot of position p in lane l. */
#define G(l,p)    ((l) -> CAP + ((p) & OMASK) : ((p) & RMASK))

/* lap::for_producer / lap::for_consumer, on d = seq - pos (wrapping). */
#ifdef MUTANT_WIDE_LAP
/* MUTANT: the distance is widened instead of wrapping ("seq == (u64)p + 1"). */
#define DIST(s,p) ((s) - (p))
#else
#define DIST(s,p) W((s) - (p))
#endif
#define P_FREE(d)      ((d) == 0)
#define P_BEHIND(d)    ((d) == W(0 - CAP) || (d) == W(1 - CAP))
#define C_READY(d)     ((d) == 1)
#define C_NOTYET(d,m)  ((d) == 0 || ((m) && (d) == W(1 - CAP)))

/* protocol::forward: a wrapping distance in the upper half counts as 0. */
#define FWD(from,to) (W((to) - (from)) > (IMASK / 2) -> 0 : W((to) - (from)))

/* ------------------------------------------------------------------ shared state */

byte tail = INIT;           /* ProducerLine.tail */
byte head = INIT;           /* ConsumerLine.head */
byte seq[CAP];              /* ring lap tags (unbiased); set by init */
byte ost = OINIT;           /* OverflowLine.state: ACTIVE | tail */
byte ohead = OINIT;         /* OverflowLine.head */
byte oseq[OSZ];             /* overflow lap tags, stored biased; set by init */
byte pay[CAP + OSZ];        /* payloads: ring slots, then overflow slots */
bit  meta[CAP + OSZ];       /* slot_meta::DISCARDED of each slot */
byte waiters;               /* WaitLine.waiters */
byte futex;                 /* WaitLine.futex (IDX_BITS wide, like every word here) */
bit  asleep[NCONS];         /* the kernel's futex queue */
bit  shutdown;              /* NCONS > 1 with WAIT: the application's "all done" flag */
byte wtarget;               /* WaitLine.wake_target: the armed position (low 32 bits) ... */
bit  warmed;                /* ... and its ARMED bit (ANY, the fallback after 8 failed
                               compare-and-swaps, is not modelled: it only wakes more) */
bit  closed;                /* ProducerLine.stream: CLOSED ... */
bit  creq;                  /* ... CLOSE_REQUESTED ... */
byte pcount = NPROD;        /* ... and the producer count (every producer joined, E2, at start) */

/* ------------------------------------------------------------------ ghost state */

#define G_FREE 0
#define G_WRITING 1
#define G_PUB 2
#define G_READING 3
byte g_slot[CAP + OSZ];     /* what the slot's payload is, for the protocol */
byte g_delivered;           /* entries delivered to any consumer */
byte g_pdone;               /* producers that pushed everything */
byte g_inflight;            /* consumers between a successful claim and the end of its release */
byte g_claims;              /* successful claims so far (mod 256) */
/* Unwrapped advances of the indices moved by compare-and-swap, to tell an index ABA (the
   index moved by a multiple of 2^IDX_BITS between two loads) from corruption. */
byte g_tx, g_hx, g_otx, g_ohx;
byte g_next[NPROD];         /* NCONS == 1: next sequence number expected from each producer */
byte g_dmask[NPROD];        /* NCONS > 1: sequence numbers of each producer delivered */
byte g_last[NCONS * NPROD]; /* NCONS > 1: 1 + last sequence number consumer c got from p */

/* Named properties: each assertion below first stores its condition in one of these local
   bits (declared by PROPS in every process, always 1 unless a property fails, so they add no
   states), so that a violation reads "assertion violated no_overwrite" rather than as the
   expanded expression:
     no_corruption_reported      honest peers: no Corruption (IndicesOutOfRange, SlotSequence)
                                 except after an index ABA
     no_overwrite                a payload is written only into a free slot
     publication_of_owned_slot   a tag publishes only what its owner wrote
     no_read_before_publication  a payload is read only once published
     release_of_claimed_slot     a tag frees only what its claimer read
     valid_payload               a delivered payload is an entry that was pushed
     exactly_once_in_order       one consumer: each producer's entries once each, in order
     no_duplicate                several consumers: no entry twice
     producer_order_per_consumer several consumers: each sees a producer's entries in order
     nothing_lost                a claim in a quiet ring finds what is left
     all_delivered_at_end        when every process has ended
     index_invariant             MPMC: 0 <= tail - head <= capacity, at every instant
     packed_state_valid          the overflow state word holds ACTIVE | tail and nothing else
     end_after_all_delivered     CLOSE: E4 reports the end only once every entry was delivered */
#define PROPS \
    bit no_corruption_reported = 1, no_overwrite = 1, publication_of_owned_slot = 1, \
        no_read_before_publication = 1, release_of_claimed_slot = 1, valid_payload = 1, \
        exactly_once_in_order = 1, no_duplicate = 1, producer_order_per_consumer = 1, \
        nothing_lost = 1, all_delivered_at_end = 1, index_invariant = 1, packed_state_valid = 1, \
        end_after_all_delivered = 1
#define CHECK(prop, cond) atomic { prop = (cond); assert(prop) }

/* ------------------------------------------------------------------ lane helpers */

/* lap::scan_free: k = leading Free positions of lane l from start (at most nn);
   oth = 1 if the scan stopped at an Other tag. One step per tag load. */
inline scan_free(l, start, nn) {
    k = 0; oth = 0;
    do
    :: k < nn && !oth ->
        atomic {
            pos = W(start + k);
            d = DIST(TAG(l, pos), pos);
            if
            :: P_FREE(d) -> k++
            :: P_BEHIND(d) -> break
            :: else -> oth = 1
            fi
        }
    :: else -> break
    od
}

/* lap::scan_ready: k = leading Ready positions; multi selects the several-consumer NotYet. */
inline scan_ready(l, start, nn, multi) {
    k = 0; oth = 0;
    do
    :: k < nn && !oth ->
        atomic {
            pos = W(start + k);
            d = DIST(TAG(l, pos), pos);
            if
            :: C_READY(d) -> k++
            :: C_NOTYET(d, multi) -> break
            :: else -> oth = 1
            fi
        }
    :: else -> break
    od
}

/* lap::verify_owned (MP3 / MC3 / O3): wait until each owned tag reads pos + off. The code
   polls RETRY_BUDGET times and then reports Stalled; the model waits without bound, so a tag
   that never arrives is a deadlock (an invalid end state). */
inline verify_owned(l, start, vlen, off) {
#ifdef MUTANT_NO_ABA_RECHECK
    skip                                             /* MUTANT: no re-check after the CAS */
#else
    vi = 0;
    do
    :: vi < vlen ->
        atomic { TAG(l, W(start + vi)) == W(start + vi + off) -> vi++ }
    :: else -> break
    od;
    vi = 0
#endif
}

/* Lane::set_tag (Release store) with the ghost transition it performs. */
inline set_tag(l, p, v) {
    if
    :: l -> oseq[(p) & OMASK] = W((v) - ((p) & OMASK))
    :: else -> seq[(p) & RMASK] = v
    fi
}

/* ------------------------------------------------------------------ producer side */

/* RawRing::reserve_ring -> spsc::reserve / lap::reserve_single / lap::reserve_multi.
   Sets ok, and on success the span (sstart, slen, splace = 0). */
inline reserve_ring() {
    ok = 0;
    if
    :: exact && n > CAP -> skip                      /* can never fit: Short */
    :: else ->
#if MODE == 0
        /* P1: free = capacity - (tail - head); with SPSC_CACHE the head is the private copy,
           re-loaded (and validated) only when it shows fewer than n free slots. */
#ifdef MUTANT_FULL_OFF_BY_ONE
#define P1_FREE(used) (CAP + 1 - (used))             /* MUTANT: full one entry too late */
#else
#define P1_FREE(used) (CAP - (used))
#endif
#if SPSC_CACHE
        d = P1_FREE(W(ctail - hcache));
        if
        :: d < n ->
#endif
            atomic {
                t = head;
                d = W(ctail - t);
                CHECK(no_corruption_reported, d <= CAP); /* else IndicesOutOfRange */
                d = P1_FREE(d);
                hcache = t;
                t = 0
            }
#if SPSC_CACHE
        :: else -> skip
        fi;
#endif
        if
        :: d == 0 || (exact && d < n) -> skip
        :: else -> ok = 1; sstart = ctail; slen = MIN(n, d); splace = 0
        fi;
        d = 0
#elif MODE == 2
        /* SP1: scan from the private tail */
        nn = MIN(n, CAP);
        scan_free(0, ctail, nn);
        CHECK(no_corruption_reported, !oth);    /* else SlotSequence */
        if
        :: k == 0 || (exact && k < nn) -> skip
        :: else -> ok = 1; sstart = ctail; slen = k; splace = 0
        fi
#else
        /* MP1..MP3 */
        nn = MIN(n, CAP);
        atomic { t = tail; x0 = g_tx };
        do
        :: scan_free(0, t, nn);
            if
            :: oth ->
                atomic {                             /* a stale tail, or corruption */
                    now = tail;
                    if
                    :: now != t -> t = now; x0 = g_tx
                    :: else ->                       /* SlotSequence: only after an index ABA */
                        CHECK(no_corruption_reported, g_tx != x0); corrupt = 1
                    fi;
                    now = 0
                }
                if
                :: corrupt -> break
                :: else -> skip
                fi
            :: !oth && (k == 0 || (exact && k < nn)) -> break
            :: else ->
                atomic {                             /* MP2: compare_exchange(tail, t, t + k) */
                    if
                    :: tail == t -> tail = W(t + k); g_tx = g_tx + k; ok = 1
                    :: else -> t = tail; x0 = g_tx
                    fi
                }
                if
                :: ok -> verify_owned(0, t, k, 0); sstart = t; slen = k; splace = 0; break
                :: else -> skip
                fi
            fi
        od;
        t = 0; x0 = 0
#endif
    fi
}

#if OCAP > 0
/* overflow::reserve (O1..O3). */
inline reserve() {
    atomic { st = ost; ox0 = g_otx };                /* O1: load state */
    do
    :: if
        :: !(st & ACTIVE) ->                         /* inactive: the ring first */
            reserve_ring();
            if
            :: ok || corrupt -> break                /* a span, or Corrupt: returned */
            :: else -> skip
            fi
        :: else -> skip
        fi;
        if
        :: exact && n > OCAP -> ok = 0; break
        :: else ->
            nn = MIN(n, OCAP);
            ot = st & TMASK;
            scan_free(1, ot, nn);
            if
            :: oth ->
                atomic {
                    now = ost;
                    if
                    :: now != st -> st = now; ox0 = g_otx
                    :: else -> CHECK(no_corruption_reported, g_otx != ox0); corrupt = 1
                    fi;
                    now = 0
                }
                if
                :: corrupt -> break
                :: else -> skip
                fi
            :: !oth && (k == 0 || (exact && k < nn)) -> ok = 0; break
            :: else ->
                atomic {                             /* O2: CAS state -> ACTIVE | tail + k */
                    if
                    :: ost == st ->
#ifdef MUTANT_PACKED_CARRY
                        ost = (st | ACTIVE) + k;     /* MUTANT: u64 add on the packed word */
#else
                        ost = ACTIVE | W(ot + k);
#endif
                        g_otx = g_otx + k; ok = 1
                    :: else -> st = ost; ox0 = g_otx
                    fi
                }
                if
                :: ok -> verify_owned(1, ot, k, 0); sstart = ot; slen = k; splace = 1; break
                :: else -> skip
                fi
            fi
        fi
    od;
    st = 0; ot = 0; ox0 = 0
}
#else
inline reserve() { reserve_ring() }
#endif

/* The payload write of one owned position (RawRing::write). */
inline write_slot(l, p, v) {
    atomic {
        CHECK(no_overwrite, g_slot[G(l, p)] == G_FREE);
        g_slot[G(l, p)] = G_WRITING;
        pay[G(l, p)] = v
    }
}

/* One tag store that publishes position p (SP2 / MP4 / O3), as an entry or, when disc, as a
   discarded slot. The Relaxed store of meta that precedes the tag store is folded into this
   step (only the owner touches meta before the tag is published). */
inline publish_one(l, p, disc) {
    atomic {
        meta[G(l, p)] = disc;
        set_tag(l, p, W(p + 1));
        if
        :: disc -> CHECK(publication_of_owned_slot, g_slot[G(l, p)] == G_FREE)   /* unwritten */
        :: else -> CHECK(publication_of_owned_slot, g_slot[G(l, p)] == G_WRITING)
        fi;
        g_slot[G(l, p)] = G_PUB
    }
}

/* RawRing::publish(span, keep): the first keep positions as entries; the rest are discarded
   (lap-tag lanes of several producers, and every overflow span) or taken back (a single
   producer's ring reservation). Sets pub: whether anything became claimable (the W1 test). */
inline publish() {
    pub = 1;
    if
    :: splace == 0 ->
#if MODE == 0
        if
        :: keep == 0 -> pub = 0                      /* nothing published */
        :: else ->
            atomic {                                 /* P2: one store of tail for the batch */
                ctail = W(sstart + keep);
                tail = ctail;
                i = 0;
                do
                :: i < keep ->
                    CHECK(publication_of_owned_slot, g_slot[G(0, W(sstart + i))] == G_WRITING);
                    g_slot[G(0, W(sstart + i))] = G_PUB;
                    i++
                :: else -> break
                od;
                i = 0
            }
        fi
#elif MODE == 2
        i = 0;                                       /* SP2: publish_kept */
        do
        :: i < keep -> publish_one(0, W(sstart + i), 0); i++
        :: else -> break
        od;
        i = 0;
        if
        :: keep == 0 -> pub = 0
        :: else -> atomic { ctail = W(sstart + keep); tail = ctail }   /* then store tail */
        fi
#else
        i = 0;                                       /* MP4: publish_all */
        do
        :: i < slen -> publish_one(0, W(sstart + i), (i >= keep)); i++
        :: else -> break
        od;
        i = 0
#endif
    :: else ->
        i = 0;                                       /* O3: publish_all on the overflow lane */
        do
        :: i < slen -> publish_one(1, W(sstart + i), (i >= keep)); i++
        :: else -> break
        od;
        i = 0
    fi;
#ifdef MUTANT_NO_WAKE_ON_DISCARD
    pub = (keep != 0)                                /* MUTANT: discarded slots wake nobody */
#else
    skip
#endif
}

/* W1 (wait::must_wake, wait::bump, futex_wake): after a publication. */
inline wake_all() {
    futex = W(futex + 1);                            /* bump: futex.fetch_add(1) */
    atomic {                                         /* FUTEX_WAKE(all) */
        i = 0;
        do
        :: i < NCONS -> asleep[i] = 0; i++
        :: else -> break
        od;
        i = 0
    }
}
inline w1() {
    skip;
#if WAIT
    if
    :: pub && waiters != 0 ->                        /* fence(SeqCst); load waiters */
#if TARGET
        /* W1T (wait::wake_if_due): load wake_target; not armed: wake nobody; armed: compare
           the producer index after the publication with it (the overflow area: reached), then
           disarm what was seen by compare-and-swap and wake. */
        atomic { tt = wtarget; ta = warmed };
        if
        :: !ta -> skip
        :: else ->
            if
            :: splace == 0 ->
#if MP
                at = tail                            /* fetch_add(0): the latest tail */
#else
                at = ctail                           /* the single producer's own tail */
#endif
            :: else -> at = tt                       /* Reached::Any */
            fi;
            if
            :: W(at - tt) > IMASK / 2 -> skip        /* (i32)(at - t) < 0: not reached */
            :: else ->
                atomic {                             /* disarm: CAS t -> 0 */
                    if
                    :: warmed && wtarget == tt -> warmed = 0; wtarget = 0
                    :: else -> skip
                    fi
                };
                wake_all()
            fi;
            at = 0
        fi;
        tt = 0; ta = 0
#else
        wake_all()
#endif
    :: else -> skip
    fi
#endif
}

proctype Producer(byte me) {
    PROPS;
    byte s, n, nn, k, d, pos, t, now, st, ot, sstart, slen, keep, i, vi, ctail, hcache, x0, ox0, ndisc;
    byte tt, at;
    bit exact, ok, oth, splace, corrupt, pub, abandon, ta, didclose;
#if MODE == 0 || MODE == 2
    ctail = tail;                                    /* producer_cursor: the private tail */
#endif
#if MODE == 0
    hcache = head;                                   /* ... and the copy of head (SPSC) */
#endif
    do
    :: s == NPUSH_OF(me) && ndisc == DISC_OF(me) -> break
    :: else ->
        if
        :: s < NPUSH_OF(me) -> n = 1; exact = 1      /* push */
#if PBATCH > 1
        :: NPUSH_OF(me) - s >= 2 -> n = 2; exact = 1 /* push_all of 2 */
        :: NPUSH_OF(me) - s >= 2 -> n = 2; exact = 0 /* push_some of 2 (reserve(2)) */
#endif
        :: ndisc < DISC_OF(me) -> n = 1; exact = 1; abandon = 1   /* a WriteChunk dropped */
        fi;
        reserve();
        if
        :: ok ->
            if
            :: abandon -> keep = 0; ndisc++          /* nothing written: keep = 0 */
            :: !abandon && slen == 2 && ndisc < DISC_OF(me) ->
                keep = 1; ndisc++                    /* a chunk committed with 1 of 2 written */
            :: !abandon -> keep = slen
            fi;
            i = 0;
            do
            :: i < keep -> write_slot(splace, W(sstart + i), VAL(me, s + i)); i++
            :: else -> break
            od;
#ifdef MUTANT_WAKE_BEFORE_PUBLISH
            pub = 1;
            w1();                                    /* MUTANT: W1 before the publication */
            publish();
#else
            publish();
            w1();
#endif
            s = s + keep
        :: else -> skip                              /* Full (or Corrupt after an index ABA):
                                                        the entry is handed back; retry */
        fi;
        corrupt = 0; n = 0; exact = 0; ok = 0; sstart = 0; slen = 0; keep = 0; splace = 0; abandon = 0;
        k = 0; nn = 0; pos = 0; d = 0; pub = 0
    od;
    g_pdone++;
#if CLOSE
    /* E1 (one producer) / E3 (several): after the last publication, leave; producer 0 closes
       (CLOSE_REQUESTED), the others drop; whoever leaves the count at 0 with CLOSE_REQUESTED set
       sets CLOSED (one compare-and-swap) and wakes every sleeper, whatever its target. */
    atomic {
        pcount--;
        if
        :: me == 0 -> creq = 1
        :: else -> skip
        fi;
        if
        :: pcount == 0 && creq -> closed = 1; didclose = 1
        :: else -> skip
        fi
    };
#ifndef MUTANT_CLOSE_NO_WAKE
    if
    :: didclose -> wake_all()                        /* forced: no check of waiters/target */
    :: else -> skip
    fi
#endif
#endif
    skip
}

/* ------------------------------------------------------------------ consumer side */

/* Records the delivery of payload v (a ghost step, folded into the payload read). */
inline deliver(v) {
    CHECK(valid_payload, v != 0);                    /* a payload that was written */
    dp = (v - 1) / 16; ds = (v - 1) % 16;
    CHECK(valid_payload, dp < NPROD && ds < NPUSH_OF(dp));
#if NCONS == 1
    CHECK(exactly_once_in_order, ds == g_next[dp]);
    g_next[dp]++;
#else
    CHECK(no_duplicate, (g_dmask[dp] & (1 << ds)) == 0);
    g_dmask[dp] = g_dmask[dp] | (1 << ds);
    CHECK(producer_order_per_consumer, g_last[me * NPROD + dp] <= ds);
    g_last[me * NPROD + dp] = ds + 1;
#endif
    g_delivered++;
    dp = 0; ds = 0
}

/* O4's condition: ring tail == head (loaded after the overflow tags were read). */
inline ring_empty() {
#ifdef MUTANT_NO_O4
    allowed = 1                                      /* MUTANT: overflow taken around the ring */
#else
    t = tail;
#if MC
    atomic { allowed = (t == head); t = 0 }
#else
    atomic { allowed = (t == chead); t = 0 }
#endif
#endif
}

/* lap::claim_multi on lane l (MC1..MC3); for the overflow lane with O4 as `allowed`. */
inline claim_multi(l) {
    nn = MIN(n, LCAP(l));
    atomic { h = (l -> ohead : head); x0 = (l -> g_ohx : g_hx) };
    do
    :: scan_ready(l, h, nn, 1);
        if
        :: oth ->
            atomic {
                now = (l -> ohead : head);
                if
                :: now != h -> h = now; x0 = (l -> g_ohx : g_hx)
                :: else -> CHECK(no_corruption_reported, x0 != (l -> g_ohx : g_hx)); corrupt = 1
                fi;
                now = 0
            }
            if
            :: corrupt -> break
            :: else -> skip
            fi
        :: !oth && k == 0 -> break
        :: else ->
            if
            :: l -> ring_empty()
            :: else -> allowed = 1
            fi;
            if
            :: !allowed -> break
            :: else ->
                atomic {                             /* MC2: CAS head / overflow head */
                    if
                    :: l && ohead == h -> ohead = W(h + k); g_ohx = g_ohx + k; ok = 1
                    :: !l && head == h -> head = W(h + k); g_hx = g_hx + k; ok = 1
                    :: else -> h = (l -> ohead : head); x0 = (l -> g_ohx : g_hx)
                    fi;
                    if
                    :: ok -> g_inflight++; g_claims++
                    :: else -> skip
                    fi
                }
                if
                :: ok -> verify_owned(l, h, k, 1); sstart = h; slen = k; splace = l; break
                :: else -> skip
                fi
            fi
        fi
    od;
    h = 0; allowed = 0; x0 = 0
}

/* overflow::try_deactivate (O6). */
inline try_deactivate() {
    st = ost;
    if
    :: !(st & ACTIVE) -> skip
    :: else ->
#if MC
        oh = ohead;
#else
        oh = cohead;
#endif
        if
#ifdef MUTANT_DEACT_NO_CHECK
        :: true ->                                   /* MUTANT: no tail == head check */
#else
        :: (st & TMASK) == oh ->
#endif
            atomic {
                if
                :: ost == st -> ost = st & ~ACTIVE
                :: else -> skip
                fi
            }
        :: else -> skip
        fi
    fi;
    st = 0; oh = 0
}

/* RawRing::claim: the ring, then (ring short) overflow::claim. */
inline claim() {
    ok = 0;
#if MODE == 0
    /* C1: avail = tail - head; with SPSC_CACHE the tail is the private copy, re-loaded (and
       validated) only when it shows fewer than n entries. */
#ifdef MUTANT_WIDE_SPSC
#define C1_AVAIL(tl) ((tl) > chead -> (tl) - chead : 0)   /* MUTANT: widened "tail > head" */
#else
#define C1_AVAIL(tl) W((tl) - chead)
#endif
#if SPSC_CACHE
    d = C1_AVAIL(tcache);
    if
    :: d < n ->
#endif
        atomic {
            t = tail;
            d = C1_AVAIL(t);
            CHECK(no_corruption_reported, d <= CAP); /* else IndicesOutOfRange */
            tcache = t;
            t = 0
        }
#if SPSC_CACHE
    :: else -> skip
    fi;
#endif
    if
    :: d == 0 -> skip
    :: else -> ok = 1; sstart = chead; slen = MIN(n, d); splace = 0; g_inflight++; g_claims++
    fi;
    d = 0
#elif MODE == 1
    nn = MIN(n, CAP);                                /* SC1 */
    scan_ready(0, chead, nn, 0);
    CHECK(no_corruption_reported, !oth);    /* else SlotSequence */
    if
    :: k > 0 -> ok = 1; sstart = chead; slen = k; splace = 0; g_inflight++; g_claims++
    :: else -> skip
    fi
#else
    claim_multi(0);                                  /* MC1..MC3 */
#endif
#if OCAP > 0
    if
    :: !ok && !corrupt ->                            /* ring short: overflow::claim */
#if MC
        claim_multi(1);                              /* O5 with O4 before the CAS */
#else
        nn = MIN(n, OCAP);                           /* O5: SC1 on the overflow lane */
        scan_ready(1, cohead, nn, 0);
        CHECK(no_corruption_reported, !oth);    /* else SlotSequence */
        if
        :: k > 0 ->
            ring_empty();                            /* O4, after the tags */
            if
            :: allowed -> ok = 1; sstart = cohead; slen = k; splace = 1; g_inflight++; g_claims++
            :: else -> skip
            fi;
            allowed = 0
        :: else -> skip
        fi;
#endif
        if
        :: !ok && !corrupt -> try_deactivate()      /* short: O6 */
        :: else -> skip
        fi
    :: else -> skip
    fi
#endif
}

/* Reading the claimed positions (one payload read each). */
inline read_span() {
    i = 0;
    do
    :: i < slen ->
        atomic {
            pos = W(sstart + i);
            CHECK(no_read_before_publication, g_slot[G(splace, pos)] == G_PUB);
            g_slot[G(splace, pos)] = G_READING;
            if
#if MODE == 0
            :: splace && meta[G(splace, pos)] -> skip        /* is_discarded: skipped */
#else
            :: meta[G(splace, pos)] -> skip
#endif
            :: else -> v = pay[G(splace, pos)]; deliver(v)
            fi;
            v = 0
        }
        i++
    :: else -> break
    od;
    i = 0
}

/* One tag store that frees position p (SC2 / MC4 / O5); `last` ends the consumer's claim. */
inline free_one(l, p, last) {
    atomic {
        set_tag(l, p, W(p + LCAP(l)));
        CHECK(release_of_claimed_slot, g_slot[G(l, p)] == G_READING);
        g_slot[G(l, p)] = G_FREE;
        if
        :: last -> g_inflight--
        :: else -> skip
        fi
    }
}

/* RawRing::release. */
inline release() {
    if
    :: splace == 0 ->
#if MODE == 0
        atomic {                                     /* C2: one store of head */
            chead = W(sstart + slen);
            head = chead;
            i = 0;
            do
            :: i < slen ->
                CHECK(release_of_claimed_slot, g_slot[G(0, W(sstart + i))] == G_READING);
                g_slot[G(0, W(sstart + i))] = G_FREE;
                i++
            :: else -> break
            od;
            i = 0;
            g_inflight--
        }
#else
        i = 0;
        do
        :: i < slen -> free_one(0, W(sstart + i), (MC && i == slen - 1)); i++
        :: else -> break
        od;
        i = 0;
#if MODE == 1
        atomic { chead = W(sstart + slen); head = chead; g_inflight-- }   /* SC2: then head */
#endif
#endif
    :: else ->
        i = 0;
        do
        :: i < slen -> free_one(1, W(sstart + i), (MC && i == slen - 1)); i++
        :: else -> break
        od;
        i = 0;
#if !MC
        atomic { cohead = W(sstart + slen); ohead = cohead; g_inflight-- }
#endif
    fi
}

/* The count of Consumer::wait(lim): RawRing::ready(cur, lim), or lim (the wait may end) when
   producers are saturated (+ the shutdown flag with several sleeping consumers): cnt. */
inline ready() {
#if MC
    hh = head;
#else
    hh = chead;
#endif
#if MODE == 0
    atomic { t = tail; cnt = MIN(FWD(hh, t), CAP); t = 0 }
#else
    nn = MIN(lim, CAP);
    scan_ready(0, hh, nn, MC);
    cnt = (oth -> lim : k);                          /* a stale-looking tag: `limit` */
#endif
#if OCAP > 0
    if
    :: cnt < lim ->
        t = tail;
        if
        :: FWD(hh, t) == cnt ->                      /* every reserved ring position counted */
#if MC
            oh = ohead;
#else
            oh = cohead;
#endif
            nn = MIN(lim - cnt, OCAP);
            scan_ready(1, oh, nn, MC);
            cnt = cnt + (oth -> lim : k)
        :: else -> skip
        fi;
        t = 0; oh = 0
    :: else -> skip
    fi;
#endif
    /* Consumer::wait's condition: with some entries ready, stop waiting for more if producers
       are saturated (RawRing::saturated: the overflow area active and full or, without one,
       the ring full), since nothing more can arrive until this consumer takes some. */
    if
#ifdef MUTANT_NO_SATURATED
    :: false ->                                      /* MUTANT: no saturation test (before d44509a) */
#else
    :: cnt > 0 && cnt < lim ->
#endif
#if OCAP > 0
        st = ost;
#if MC
        oh = ohead;
#else
        oh = cohead;
#endif
        if
        :: (st & ACTIVE) && FWD(oh, st & TMASK) >= OCAP -> cnt = lim
        :: else -> skip
        fi;
        st = 0; oh = 0
#else
#if MC
        hh = head;
#endif
        t = tail;
        if
        :: FWD(hh, t) >= CAP -> cnt = lim
        :: else -> skip
        fi;
        t = 0
#endif
    :: else -> skip
    fi;
#if NCONS > 1
    cnt = cnt + shutdown * lim;
#endif
    hh = 0; nn = 0; k = 0; oth = 0; pos = 0; d = 0
}

/* W2T (wait::arm): the target is the position whose publication completes the wait,
   position() + min(max(lim - overflow entries pending, 1), capacity) (the overflow area's
   entries count towards the wait too); lower the armed target to it (one step: a
   compare-and-swap that succeeds, the load before it folded in; failed attempts change
   nothing), unless an equal or lower plausible target is armed. */
inline target() {
#if MC
    hh = head;
#else
    hh = chead;
#endif
#ifndef MUTANT_TARGET_IGNORES_OVERFLOW
    d = W(W(ost) - ohead);                           /* overflow entries pending */
    d = (lim > d -> lim - d : 1);
#else
    d = (lim > 0 -> lim : 1);
#endif
    tpos = W(hh + MIN(d, CAP));
    d = 0
}

inline arm() {                                      /* with tpos, hh from target() */
    atomic {
        if
        :: warmed && (W(wtarget - hh) <= CAP || W(wtarget - hh) > IMASK / 2) && W(tpos - wtarget) <= IMASK / 2 ->
            skip                                     /* an equal or lower target is armed */
        :: else -> wtarget = tpos; warmed = 1
        fi
    };
    hh = 0; tpos = 0
}

/* Consumer::wait_for(min = lim) with spin = 0 and no timeout (W2), as Consumer::reap calls it
   after a pop that found nothing: lim = min(WMIN, entries still to come). */
inline wait_for() {
    do
    :: ready();
        if
        :: cnt >= lim -> break
        :: else -> skip
        fi;
#if CLOSE
        if
        :: closed -> break                           /* E4: the caller claims (and ends) */
        :: else -> skip
        fi;
#endif
#if TARGET && SNAP_FIRST
        seen = futex;                                /* snapshot the futex word first (as the */
        waiters++;                                   /* code since b6c41b4's fix), announce, */
        target(); tfirst = tpos;
        arm();                                       /* W2T, fence */
#elif TARGET
        waiters++;                                   /* b6c41b4's order: announce, W2T, */
        target(); tfirst = tpos;
        arm();                                       /* fence, */
        seen = futex;                                /* then the snapshot */
#else
        waiters++;                                   /* W2: announce (SeqCst RMW), fence */
        seen = futex;                                /* snapshot the futex word */
#endif
#ifndef MUTANT_NO_SLEEP_RECHECK
        ready();                                     /* re-check */
        if
        :: cnt >= lim ->
            atomic { waiters = (waiters > 0 -> waiters - 1 : 0) };   /* retire */
            break
        :: else -> skip
        fi;
#if TARGET && OCAP > 0 && !defined(MUTANT_TARGET_IGNORES_OVERFLOW)
        target();                                    /* W2T again after the fence, only if */
        if                                           /* overflow entries seen now lower the */
        :: W(tpos - tfirst) > IMASK / 2 ->           /* target (as the code): arm, fence, */
            arm();                                   /* re-check */
            ready();
            if
            :: cnt >= lim ->
                atomic { waiters = (waiters > 0 -> waiters - 1 : 0) };
                break
            :: else -> skip
            fi
        :: else -> skip
        fi;
        tpos = 0; hh = 0; tfirst = 0;
#endif
#endif
#if CLOSE
        if
        :: closed ->                                 /* E4 in the re-check */
            atomic { waiters = (waiters > 0 -> waiters - 1 : 0) };
            break
        :: else -> skip
        fi;
#endif
        atomic {                                     /* FUTEX_WAIT(futex, seen) */
            if
            :: futex == seen -> asleep[me] = 1
            :: else -> skip                          /* EAGAIN */
            fi
        }
        (asleep[me] == 0);                           /* sleeping until FUTEX_WAKE */
        atomic { waiters = (waiters > 0 -> waiters - 1 : 0); seen = 0 }   /* retire */
    od;
    cnt = 0; seen = 0; lim = 0
}

proctype Consumer(byte me) {
    PROPS;
    byte n, nn, k, d, pos, t, h, now, st, oh, hh, sstart, slen, i, vi, v, dp, ds, cnt, seen;
    byte chead, cohead, tcache, c0, x0, lim, tpos, tfirst;
    bit ok, oth, splace, allowed, q0, corrupt, ended;
#if !MC
    chead = head;                                    /* consumer_cursor: private heads */
    cohead = ohead;
#endif
#if MODE == 0
    tcache = tail;                                   /* ... and the copy of tail (SPSC) */
#endif
    do
#if CLOSE
    :: ended -> break                                /* E4 reported the end */
    :: atomic {
           !ended ->
#else
    :: atomic { g_delivered == TOTAL -> break }
    :: atomic {
           g_delivered != TOTAL ->
#endif
           /* ghost: is everything pushed and nobody mid-claim? (quiescence) */
           q0 = (g_pdone == NPROD && g_inflight == 0);
           c0 = g_claims
       };
#if CBATCH > 1
        if
        :: n = 1
        :: n = 2
        fi;
#else
        n = 1;
#endif
        claim();
        if
        :: ok ->
            read_span();
            release()
        :: else ->
            /* No entry lost: if nothing moved during the whole attempt, everything pushed was
               published and nobody held a claim, a claim that finds nothing means that every
               entry has been delivered. */
            CHECK(nothing_lost, !(q0 && g_inflight == 0 && g_claims == c0) || g_delivered == TOTAL);
#if CLOSE
            if
            :: closed ->                             /* E4: CLOSED seen (Acquire): claim again */
#ifdef MUTANT_E4_NO_RECHECK
                ok = 0;                              /* MUTANT: the end reported at once */
#else
                n = 1;
                claim();
#endif
                if
                :: ok -> read_span(); release()
                :: else ->
                    CHECK(end_after_all_delivered, g_delivered == TOTAL);
                    ended = 1
                fi
            :: else ->
#if WAIT
                lim = MIN(WMIN, CAP + OCAP);         /* reap(min): the close ends the wait */
                wait_for()
#else
                skip
#endif
            fi
#elif WAIT
            lim = MIN(WMIN, TOTAL - g_delivered);    /* reap(min): at most what is to come, */
            lim = MIN(lim, CAP + OCAP);              /* and at most what the lanes hold */
            wait_for()
#else
            skip
#endif
        fi;
#if WAIT && NCONS > 1
        if
        :: atomic { g_delivered == TOTAL && !shutdown -> shutdown = 1 };
            wake_all()                               /* the application's Ring::wake_all */
        :: else -> skip
        fi;
#endif
        n = 0; nn = 0; k = 0; d = 0; pos = 0; ok = 0; oth = 0; sstart = 0; slen = 0; splace = 0;
        q0 = 0; c0 = 0; corrupt = 0
    od
}

/* ------------------------------------------------------------------ invariants */

#if MODE == 3
#define INV_IDX (W(tail - head) <= CAP)              /* MPMC: 0 <= tail - head <= capacity */
#else
#define INV_IDX true
#endif
#define INV_OST (ost < 2 * MOD)                      /* ACTIVE | tail, no other bit */
#define INV (INV_IDX && INV_OST)

/* A monitor that can only move when an invariant fails (so it adds no states otherwise). */
active proctype Invariants() {
    PROPS;
end: atomic {
        !INV ->
        CHECK(index_invariant, INV_IDX);
        CHECK(packed_state_valid, INV_OST)
    }
}

/* ------------------------------------------------------------------ setup */

#ifdef LIVENESS
/* Every entry pushed is eventually delivered (run with weak fairness, -a -f). */
ltl all_delivered { <> (g_delivered == TOTAL) }
#endif

init {
    PROPS;
    byte i;
    atomic {
        i = 0;
        do                                           /* format: initial_lap_tag */
        :: i < CAP -> seq[i] = W(INIT + ((i - INIT) & RMASK)); i++
        :: else -> break
        od;
        i = 0;
        do                                           /* biased: stored = tag - slot */
        :: i < OSZ -> oseq[i] = W(OINIT + ((i - OINIT) & OMASK) - i); i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NPROD -> run Producer(i); i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NCONS -> run Consumer(i); i++
        :: else -> break
        od;
        i = 0
    }
    /* Everything done: all delivered. */
    (_nr_pr == 2);                                   /* init and Invariants remain */
    CHECK(all_delivered_at_end, g_delivered == TOTAL)
}
