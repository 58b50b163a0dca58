#!/usr/bin/env bash
# Runs the spin models of the ring protocols (spec/model/ring.pml) and of the record ring
# (spec/model/records.pml, configurations rec-*) in a set of configurations and fails (non-zero
# exit) on any violation. spec/VERIFICATION.md describes what each checks.
#
#   spec/model/check.sh                  the CI configurations
#   spec/model/check.sh --deep           the deeper configurations (larger bounds; not in CI)
#   spec/model/check.sh --all            both
#   spec/model/check.sh NAME...          only the named configurations (see --list)
#   spec/model/check.sh --list           list the configurations
#
# Options:
#   -D NAME[=VALUE]   an extra #define for spin, appended to every configuration selected
#                     (scripts/mutants plants bugs this way: -D MUTANT_NO_O4)
#   --expect-fail     invert: succeed only if every selected configuration reports a violation
#   -j N              run N configurations at a time (default: 2)
#   --memlim MB       memory limit of each verifier run (default: 6000; pan -DMEMLIM)
#   --keep DIR        keep the work files (pan.c, trails, outputs) in DIR
#   -q                print only the result table
#
# Needs spin (Debian/Ubuntu package `spin`; installed here with apt-get when missing and running
# as root) and a C compiler. Each configuration: `spin -a` with its -D parameters, gcc with
# -DSAFETY (safety runs: assertions and invalid end states) or without it (liveness runs: the
# LTL property of ring.pml under weak fairness, pan -a -f), -DCOLLAPSE (exact state compression),
# then pan; a run passes only if pan prints "errors: 0" and explored the state space completely
# (no depth truncation, no memory exhaustion).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

# name | kind (safety, ltl) | spin defines | extra pan flags | CI or deep [| model, default ring.pml]
# Defaults in ring.pml: IDX_BITS=3 CAP=2 OCAP=2 MODE=1 NPROD=2 NCONS=1 NPUSH=2 PBATCH=1
# CBATCH=1 WAIT=0 WMIN=1 DISCARD=0 TARGET=0 SNAP_FIRST=1 CLOSE=0 INIT=MOD-2 OINIT=MOD-1. Every CI configuration crosses the index
# wrap of the ring (and, with an overflow area, of the overflow area).
CONFIGS=(
# -- (a) several producers, one consumer, overflow hand-over
"mpsc-ovf|safety|-DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=3||ci"
"mpsc-batch-discard|safety|-DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=2 -DPBATCH=2 -DCBATCH=2 -DDISCARD=1||ci"
# -- (b) one producer, several consumers
"spmc-ovf|safety|-DMODE=2 -DNPROD=1 -DNCONS=2 -DNPUSH=4||ci"
"mpmc-ovf|safety|-DMODE=3 -DNPROD=2 -DNCONS=2 -DNPUSH0=2 -DNPUSH=1||ci"
"spsc-ovf-batch|safety|-DMODE=0 -DNPROD=1 -DNCONS=1 -DNPUSH=6 -DPBATCH=2 -DCBATCH=2 -DDISCARD=1||ci"
# -- (c) sleep/wake: a sleeper never woken is an invalid end state
"wait-mpsc-ovf|safety|-DWAIT=1 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=2||ci"
"wait-mpsc-discard|safety|-DWAIT=1 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=1 -DDISCARD=1||ci"
"wait-spmc-ovf|safety|-DWAIT=1 -DMODE=2 -DNPROD=1 -DNCONS=2 -DNPUSH=2||ci"
"wait-mpsc-ovf-min2|safety|-DWAIT=1 -DWMIN=2 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=2||ci"
"wait-spsc-ovf-min2|safety|-DWAIT=1 -DWMIN=2 -DMODE=0 -DNPROD=1 -DNCONS=1 -DNPUSH=4||ci"
# -- layout 1.3: wake-up targets (W2T/W1T) and the end of stream (E1-E4); a sleeper never woken
#    is an invalid end state, and with CLOSE the consumer ends only on E4 (no ghost exit)
"target-mpsc-hole|safety|-DWAIT=1 -DTARGET=1 -DWMIN=2 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=1 -DOCAP=0||ci"
# the target counts the overflow area's pending entries (lowered by them, re-armed after the
# fence): a ring publication that completes a wait together with entries already in the
# overflow area reaches it (this configuration found the bug when the target ignored them)
"target-mpsc-ovf-min2|safety|-DWAIT=1 -DTARGET=1 -DWMIN=2 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=2||ci"
"target-spsc-ovf-min3|safety|-DWAIT=1 -DTARGET=1 -DWMIN=3 -DMODE=0 -DNPROD=1 -DNCONS=1 -DNPUSH=4||ci"
"target-spmc-ovf|safety|-DWAIT=1 -DTARGET=1 -DMODE=2 -DNPROD=1 -DNCONS=2 -DNPUSH=2||ci"
"close-spsc-ovf-min2|safety|-DWAIT=1 -DTARGET=1 -DCLOSE=1 -DWMIN=2 -DMODE=0 -DNPROD=1 -DNCONS=1 -DNPUSH=3||ci"
"close-mpsc-min2|safety|-DWAIT=1 -DTARGET=1 -DCLOSE=1 -DWMIN=2 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=1||ci"
"close-mpsc-none|safety|-DWAIT=1 -DTARGET=1 -DCLOSE=1 -DWMIN=1 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH0=0 -DNPUSH=1 -DOCAP=0||ci"
# -- index ABA with 2-bit indices (capacity 2 = half the index space, as 2^31 is for u32).
#    -E: a consumer fooled by a head ABA can claim a position no producer has reserved yet and
#    wait for it in MC3 for ever once production stops (spec/RATIONALE.md, ABA, "What remains";
#    the code gives up after RETRY_BUDGET polls with Corruption::Stalled). Assertions only.
"aba-mpsc|safety|-DIDX_BITS=2 -DMODE=1 -DNPROD=2 -DNPUSH0=1 -DNPUSH=4 -DOCAP=0|-E|ci"
"aba-mpsc-ovf|safety|-DIDX_BITS=2 -DMODE=1 -DNPROD=2 -DNPUSH0=1 -DNPUSH=4 -DOCAP=2|-E|ci"
"aba-spmc|safety|-DIDX_BITS=2 -DMODE=2 -DNPROD=1 -DNCONS=2 -DNPUSH=5 -DOCAP=0|-E|ci"
# -- (d) liveness: <> all delivered, weak fairness
"live-mpsc-ovf|ltl|-DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=2||ci"
"live-spmc-ovf|ltl|-DMODE=2 -DNPROD=1 -DNCONS=2 -DNPUSH=3||ci"
"live-mpmc-ovf|ltl|-DMODE=3 -DNPROD=2 -DNCONS=2 -DNPUSH=1||ci"
"live-spsc|ltl|-DMODE=0 -DNPROD=1 -DNCONS=1 -DNPUSH=4 -DOCAP=0||ci"
"live-spsc-ovf-batch|ltl|-DMODE=0 -DNPROD=1 -DNCONS=1 -DNPUSH=5 -DPBATCH=2 -DCBATCH=2||ci"
"live-wait-mpsc-discard|ltl|-DWAIT=1 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=1 -DDISCARD=1||ci"
"live-wait-spsc-ovf-min3|ltl|-DWAIT=1 -DWMIN=3 -DMODE=0 -DNPROD=1 -DNCONS=1 -DNPUSH=5||ci"
# -- deeper runs (not in CI): larger bounds; minutes and several GB each
"deep-mpsc-ovf|safety|-DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=4||deep"
"deep-mpsc3|safety|-DMODE=1 -DNPROD=3 -DNCONS=1 -DNPUSH=2||deep"
"deep-spmc-ovf|safety|-DMODE=2 -DNPROD=1 -DNCONS=2 -DNPUSH=5||deep"
"deep-mpmc-ovf|safety|-DMODE=3 -DNPROD=2 -DNCONS=2 -DNPUSH=2||deep"
"deep-mpmc-batch-discard|safety|-DMODE=3 -DNPROD=2 -DNCONS=2 -DNPUSH=1 -DPBATCH=2 -DCBATCH=2 -DDISCARD=1||deep"
"deep-cap4|safety|-DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=3 -DCAP=4 -DOCAP=2 -DIDX_BITS=4||deep"
"deep-wait-mpsc-ovf|safety|-DWAIT=1 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=3||deep"
"deep-wait-spmc-ovf|safety|-DWAIT=1 -DMODE=2 -DNPROD=1 -DNCONS=2 -DNPUSH=3||deep"
"deep-wait-spmc-ovf-min2|safety|-DWAIT=1 -DWMIN=2 -DMODE=2 -DNPROD=1 -DNCONS=2 -DNPUSH=3||deep"
"deep-wait-mpsc-discard|safety|-DWAIT=1 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=2 -DDISCARD=1||deep"
"deep-live-mpsc-ovf|ltl|-DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=3||deep"
"deep-live-wait-mpsc-ovf|ltl|-DWAIT=1 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH=2||deep"
"deep-live-wait-spmc-ovf|ltl|-DWAIT=1 -DMODE=2 -DNPROD=1 -DNCONS=2 -DNPUSH=2||deep"
"deep-live-wait-mpsc-ovf-min3|ltl|-DWAIT=1 -DWMIN=3 -DMODE=1 -DNPROD=2 -DNCONS=1 -DNPUSH0=3 -DNPUSH=1||deep"
# -- the record ring (records.pml). Defaults there: MODE=1 NPROD=2 NPUSH=2 CAPW=4 (words of 8
#    bytes: the smallest data area, 32 bytes) MAXP=1 IDX_BITS=3 CNT_BITS=3 INIT=IDXMOD-3
#    DISCARD=0: every configuration crosses the position wrap, and the padding record at the end
#    of the area is reachable. MR1's head cache has an age limit (RECORDS.md, MR1), which the
#    configurations where a producer stays idle for a whole index space need (-DNO_HC_FRESH
#    removes it: the mutant spin-rec-stale-head-cache).
"rec-spsc|safety|-DMODE=0 -DNPROD=1 -DNPUSH=4||ci|records.pml"
"rec-spsc-discard|safety|-DMODE=0 -DNPROD=1 -DNPUSH=5 -DDISCARD=1||ci|records.pml"
"rec-spsc-cap8|safety|-DMODE=0 -DNPROD=1 -DNPUSH=4 -DCAPW=8 -DMAXP=3 -DIDX_BITS=4 -DINIT=13||ci|records.pml"
"rec-mpsc|safety|-DMODE=1 -DNPROD=2 -DNPUSH=2||ci|records.pml"
"rec-mpsc-discard|safety|-DMODE=1 -DNPROD=2 -DNPUSH=2 -DDISCARD=1||ci|records.pml"
"rec-mpsc3|safety|-DMODE=1 -DNPROD=3 -DNPUSH=1||ci|records.pml"
# the reservation ABA: one producer stalls in MR1 while the other reserves a whole index space
# (8 words); the reservation count makes its compare-and-swap fail (spin-rec-no-count)
"rec-aba-mpsc|safety|-DMODE=1 -DNPROD=2 -DNPUSH0=1 -DNPUSH=4||ci|records.pml"
"deep-rec-mpsc-cap8|safety|-DMODE=1 -DNPROD=2 -DNPUSH=2 -DCAPW=8 -DMAXP=3 -DIDX_BITS=4 -DINIT=13||deep|records.pml"
"deep-rec-mpsc-n3|safety|-DMODE=1 -DNPROD=2 -DNPUSH=3||deep|records.pml"
)

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

extra=()
expect_fail=0
jobs=2
memlim=6000
keep=""
quiet=0
set_sel=ci
names=()
while [ $# -gt 0 ]; do
    case "$1" in
        -D) extra+=("-D$2"); shift 2 ;;
        -D*) extra+=("$1"); shift ;;
        --expect-fail) expect_fail=1; shift ;;
        -j) jobs="$2"; shift 2 ;;
        --memlim) memlim="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        -q) quiet=1; shift ;;
        --deep) set_sel=deep; shift ;;
        --all) set_sel=all; shift ;;
        --list)
            for c in "${CONFIGS[@]}"; do
                IFS='|' read -r n k d p s m <<<"$c"
                printf '%-26s %-6s %-4s %-11s %s %s\n' "$n" "$k" "$s" "${m:-ring.pml}" "$d" "$p"
            done
            exit 0 ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
        *) names+=("$1"); shift ;;
    esac
done

if ! command -v spin >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing spin (apt-get)" >&2
        apt-get update >/dev/null && apt-get install -y spin >/dev/null
    else
        echo "spin is not installed (Debian/Ubuntu: apt-get install spin)" >&2
        exit 2
    fi
fi
command -v gcc >/dev/null 2>&1 || { echo "gcc is required" >&2; exit 2; }

selected=()
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r n k d p s m <<<"$c"
    if [ ${#names[@]} -gt 0 ]; then
        for want in "${names[@]}"; do
            [ "$want" = "$n" ] && selected+=("$c")
        done
    elif [ "$set_sel" = all ] || [ "$set_sel" = "$s" ]; then
        selected+=("$c")
    fi
done
if [ ${#selected[@]} -eq 0 ]; then
    echo "no configuration selected (see --list)" >&2
    exit 2
fi

if [ -n "$keep" ]; then
    work="$keep"
    mkdir -p "$work"
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/ring-spin.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
fi

# One configuration: writes $work/$name/result (one line: name kind verdict states transitions
# seconds memoryMB detail) and keeps pan's output in $work/$name/pan.out.
run_one() {
    local name="$1" kind="$2" defs="$3" panflags="$4" model="${5:-ring.pml}"
    local dir="$work/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$here/$model" "$dir/$model"
    local spindefs=($defs ${extra[@]+"${extra[@]}"})
    local ccflags=(-O2 -DCOLLAPSE -DVECTORSZ=4096 "-DMEMLIM=$memlim")
    local panargs=(-m1000000)
    if [ "$kind" = ltl ]; then
        spindefs+=(-DLIVENESS)
        ccflags+=(-DNFAIR=3)
        panargs+=(-a -f)
    else
        ccflags+=(-DSAFETY)
    fi
    # shellcheck disable=SC2206
    panargs+=($panflags)
    local verdict detail=""
    local t0 t1
    : >"$dir/pan.out"
    t0=$(date +%s.%N)
    if ! (cd "$dir" && spin "${spindefs[@]}" -a "$model" >spin.out 2>&1); then
        verdict=ERROR; detail="spin -a failed: $(grep -m1 -i error "$dir/spin.out" || true)"
    elif ! (cd "$dir" && gcc "${ccflags[@]}" -o pan pan.c >cc.out 2>&1); then
        verdict=ERROR; detail="gcc failed"
    else
        (cd "$dir" && ./pan "${panargs[@]}" >pan.out 2>&1) || true
        local errs
        errs=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$dir/pan.out" | head -1)
        if [ -z "$errs" ]; then
            verdict=ERROR; detail="no verdict: $(grep -m1 -iE 'error|memory|pan:' "$dir/pan.out" || true)"
        elif [ "$errs" != 0 ]; then
            verdict=VIOLATION
            detail=$(grep -m1 -E 'assertion violated|invalid end state|acceptance cycle|non-progress cycle|pan:[0-9]+:' "$dir/pan.out" | sed 's/^ *//' | cut -c1-110 || true)
        elif grep -qE 'max search depth too small|out of memory|search not completed|Search truncated' "$dir/pan.out"; then
            verdict=INCOMPLETE; detail=$(grep -m1 -E 'max search depth too small|out of memory|search not completed|Search truncated' "$dir/pan.out")
        else
            verdict=PASS
        fi
    fi
    t1=$(date +%s.%N)
    local states trans mem secs
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$dir/pan.out" 2>/dev/null | head -1)
    trans=$(sed -n 's/^ *\([0-9.e+]*\) transitions.*/\1/p' "$dir/pan.out" 2>/dev/null | head -1)
    mem=$(sed -n 's/^ *\([0-9.]*\)[[:space:]]*total actual memory usage.*/\1/p' "$dir/pan.out" 2>/dev/null | head -1)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$verdict" "${states:--}" \
        "${trans:--}" "$secs" "${mem:--}" "$detail" >"$dir/result"
    if [ "$quiet" = 0 ]; then
        printf '  %-26s %-6s %-10s %12s states %7ss  %s\n' "$name" "$kind" "$verdict" \
            "${states:--}" "$secs" "$detail" >&2
    fi
}

[ "$quiet" = 0 ] && echo "== spin $(spin -V | sed -n 's/Spin Version \([^ ]*\).*/\1/p'), ${#selected[@]} configuration(s), extra defines: ${extra[*]:-none}" >&2

running=0
for c in "${selected[@]}"; do
    IFS='|' read -r n k d p s m <<<"$c"
    run_one "$n" "$k" "$d" "$p" "$m" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

fail=0
printf '%-26s %-6s %-10s %12s %12s %8s %9s  %s\n' configuration kind result states transitions seconds memoryMB detail
for c in "${selected[@]}"; do
    IFS='|' read -r n k d p s m <<<"$c"
    r="$work/$n/result"
    if [ ! -f "$r" ]; then
        printf '%-26s %-6s %-10s\n' "$n" "$k" ERROR
        fail=1
        continue
    fi
    IFS=$'\t' read -r rn rk rv rs rt rsec rmem rdet <"$r"
    printf '%-26s %-6s %-10s %12s %12s %8s %9s  %s\n' "$rn" "$rk" "$rv" "$rs" "$rt" "$rsec" "$rmem" "$rdet"
    if [ "$expect_fail" = 1 ]; then
        [ "$rv" = VIOLATION ] || fail=1
    else
        [ "$rv" = PASS ] || fail=1
    fi
done

if [ "$fail" != 0 ]; then
    if [ "$expect_fail" = 1 ]; then
        echo "== FAILED: a configuration did not report the expected violation" >&2
    else
        echo "== FAILED: violation or incomplete run (trails: rerun with --keep DIR, then" \
            "'spin -t -p <defines> ring.pml' (or records.pml) in DIR/<configuration>)" >&2
    fi
    exit 1
fi
[ "$quiet" = 0 ] && echo "== all ${#selected[@]} configuration(s) as expected" >&2
exit 0
