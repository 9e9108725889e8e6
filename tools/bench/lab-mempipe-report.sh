#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Renders the MemPipe lab metrics (test/lab/90-mempipe.sh) of one lab run as a Markdown table
# and a JSON file: every ratio is between numbers measured in that one boot.
# usage: lab-mempipe-report.sh LOGDIR/metrics.txt OUT.md OUT.json
set -eu
M=$1 MD=$2 JS=$3
awk -v md="$MD" -v js="$JS" -v src="$M" '
    /^(mempipe|mempipe_static|tcp|vchan64k|vchan1m)_(MBps|rtt_us|alloc_kb|used_kb|peak_kb|tx_alloc_kb|tx_used_kb)\./ {
        split($1, k, "."); v[k[1], k[2]] = $2; sizes[k[2]] = 1
    }
    function nul(x) { return x == "" ? "null" : x }
    END {
        n = 0; for (s in sizes) list[++n] = s + 0
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
        print "| message | sized MB/s | static 1 MiB MB/s | TCP MB/s | vchan 64 KiB MB/s | vchan 1 MiB MB/s | static / TCP | static / vchan 1 MiB | sized / static | sized RTT us | static RTT us | TCP RTT us | vchan 1 MiB RTT us | static RTT / TCP |" > md
        print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" > md
        print "{\"source\": \"" src "\", \"results\": [" > js
        for (i = 1; i <= n; i++) {
            s = list[i]
            d = v["mempipe_MBps", s]; st = v["mempipe_static_MBps", s]; t = v["tcp_MBps", s]
            dr = v["mempipe_rtt_us", s]; sr = v["mempipe_static_rtt_us", s]; tr = v["tcp_rtt_us", s]
            v6 = v["vchan64k_MBps", s]; v1 = v["vchan1m_MBps", s]; v1r = v["vchan1m_rtt_us", s]
            if (v6 == "") v6 = "-"; if (v1 == "") v1 = "-"; if (v1r == "") v1r = "-"
            printf "| %d B | %s | %s | %s | %s | %s | %.1fx | %s | %.0f%% | %s | %s | %s | %s | %.2f |\n", s, d, st, t, v6, v1, \
                (t > 0 ? st / t : 0), (v1 > 0 ? sprintf("%.2fx", st / v1) : "-"), (st > 0 ? 100 * d / st : 0), \
                dr, sr, tr, v1r, (tr > 0 ? sr / tr : 0) > md
            a = v["mempipe_alloc_kb", s]; u = v["mempipe_used_kb", s]; p = v["mempipe_peak_kb", s]
            sa = v["mempipe_static_alloc_kb", s]; su = v["mempipe_static_used_kb", s]; sp = v["mempipe_static_peak_kb", s]
            printf "  {\"message_bytes\": %d, \"sized_MBps\": %s, \"static_MBps\": %s, \"tcp_MBps\": %s, \"vchan64k_MBps\": %s, \"vchan1m_MBps\": %s, \"sized_rtt_us\": %s, \"static_rtt_us\": %s, \"tcp_rtt_us\": %s, \"vchan1m_rtt_us\": %s, \"sized_alloc_kb\": %s, \"sized_used_kb\": %s, \"sized_peak_kb\": %s, \"static_alloc_kb\": %s, \"static_used_kb\": %s, \"static_peak_kb\": %s, \"sized_tx_alloc_kb\": %s, \"sized_tx_used_kb\": %s, \"static_tx_alloc_kb\": %s, \"static_tx_used_kb\": %s}%s\n", \
                s, d, st, t, nul(v["vchan64k_MBps", s]), nul(v["vchan1m_MBps", s]), dr, sr, tr, nul(v["vchan1m_rtt_us", s]), \
                nul(a), nul(u), nul(p), nul(sa), nul(su), nul(sp), nul(v["mempipe_tx_alloc_kb", s]), nul(v["mempipe_tx_used_kb", s]), \
                nul(v["mempipe_static_tx_alloc_kb", s]), nul(v["mempipe_static_tx_used_kb", s]), (i < n ? "," : "") > js
        }
        print "]}" > js
        # The source design'"'"'s table: memory granted against memory in use, at what throughput.
        if (v["mempipe_alloc_kb", list[1]] == "") exit
        print "" > md
        print "| message | sized: allocated KiB | used KiB | utilisation | window peak KiB | peak / allocated | static: allocated KiB | used KiB | utilisation | window peak KiB | peak / allocated | sized / static MB/s |" > md
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" > md
        for (i = 1; i <= n; i++) {
            s = list[i]
            a = v["mempipe_alloc_kb", s]; u = v["mempipe_used_kb", s]; p = v["mempipe_peak_kb", s]
            sa = v["mempipe_static_alloc_kb", s]; su = v["mempipe_static_used_kb", s]; sp = v["mempipe_static_peak_kb", s]
            d = v["mempipe_MBps", s]; st = v["mempipe_static_MBps", s]
            printf "| %d B | %.0f | %.0f | %.0f%% | %.0f | %.0f%% | %.0f | %.0f | %.0f%% | %.0f | %.0f%% | %.0f%% |\n", s, a, u, \
                (a > 0 ? 100 * u / a : 0), p, (a > 0 ? 100 * p / a : 0), sa, su, (sa > 0 ? 100 * su / sa : 0), \
                sp, (sa > 0 ? 100 * sp / sa : 0), (st > 0 ? 100 * d / st : 0) > md
        }
        # A direction'"'"'s whole memory: the sender'"'"'s tx (the client samples it) and the receiver'"'"'s rx.
        if (v["mempipe_tx_alloc_kb", list[1]] == "") exit
        print "" > md
        print "| message | sized: tx allocated KiB | tx used KiB | tx + rx allocated KiB | tx + rx used KiB | pipe utilisation | static: tx allocated KiB | tx used KiB | tx + rx allocated KiB | tx + rx used KiB | pipe utilisation |" > md
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" > md
        for (i = 1; i <= n; i++) {
            s = list[i]
            ta = v["mempipe_tx_alloc_kb", s]; tu = v["mempipe_tx_used_kb", s]
            a = ta + v["mempipe_alloc_kb", s]; u = tu + v["mempipe_used_kb", s]
            sta = v["mempipe_static_tx_alloc_kb", s]; stu = v["mempipe_static_tx_used_kb", s]
            sa = sta + v["mempipe_static_alloc_kb", s]; su = stu + v["mempipe_static_used_kb", s]
            printf "| %d B | %.0f | %.0f | %.0f | %.0f | %.0f%% | %.0f | %.0f | %.0f | %.0f | %.0f%% |\n", s, ta, tu, a, u, \
                (a > 0 ? 100 * u / a : 0), sta, stu, sa, su, (sa > 0 ? 100 * su / sa : 0) > md
        }
    }' "$M"
