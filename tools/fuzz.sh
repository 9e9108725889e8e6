#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Run each libFuzzer harness for SECONDS from its seed corpus (test/fuzz/corpus/<name>, never
# modified: new inputs go to a scratch corpus) and print a table of executions and coverage.
# Usage: tools/fuzz.sh BINDIR SECONDS [NAME...]; exit 1 if any harness crashed (the crashing
# input is kept in BINDIR/crashes/ and printed).
set -uo pipefail
BIN=$1 SECS=$2
shift 2
TOP=$(cd "$(dirname "$0")/.." && pwd)
NAMES=${*:-$(cd "$TOP/test/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')}
status=0
printf '| harness | seconds | executions | exec/s | coverage (edges) | features | corpus | result |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for n in $NAMES; do
    work=$BIN/corpus/$n
    mkdir -p "$work" "$BIN/crashes"
    log=$BIN/$n.log
    "$BIN/fuzz_$n" -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$BIN/crashes/$n-" \
        "$work" "$TOP/test/fuzz/corpus/$n" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    result=ok
    if [ $rc -ne 0 ]; then result="CRASH (see $log)"; status=1; fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$SECS" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
[ $status -eq 0 ] || { for f in "$BIN"/crashes/*; do [ -f "$f" ] && { echo "crash input $f:"; od -An -tx1 "$f" | head -8; }; done; }
exit $status
