# shellcheck shell=bash
# Results of bench/run.sh as Markdown tables: medians of the rounds and
# paired ratios against the baseline scenario. Sourced by run.sh.

# median reads numbers, one a line, and prints their median.
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# column_of SCENARIO CONNS FIELD prints the median of one results column.
column_of() {
	awk -F '\t' -v s="$1" -v c="$2" -v f="$3" '$2 == s && $3 == c { print $f }' "$results" | median
}

# paired_ratio SCENARIO CONNS FIELD divides one results column of SCENARIO
# by the baseline's in the same round, and prints the median of those
# per-round ratios. The two runs of a round are adjacent in time, so a
# slow drift in the machine's other load mostly cancels out of each ratio.
paired_ratio() {
	awk -F '\t' -v s="$1" -v c="$2" -v f="$3" -v base="${scenarios[0]}" '
	$3 == c && $2 == s { value[$1] = $f }
	$3 == c && $2 == base { reference[$1] = $f }
	END {
		for (r in value) {
			if (reference[r] > 0) printf "%.6f\n", value[r] / reference[r]
		}
	}' "$results" | median | awk '{ printf "%.3f", $1 }'
}

ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

report() {
	local baseline=${scenarios[0]} conns s
	local beside="in the same round"
	((paired)) && beside="loaded beside it"
	echo "Figures are medians over the rounds. A ratio is the median of the scenario's figure divided"
	echo "by the $baseline run $beside, so dividing two columns of this table does not give it."
	echo
	echo "| scenario | conns | req/s | p50 ms | p99 ms | proxy CPU µs/req | of it user | req/s vs $baseline | p99 vs $baseline | CPU/req vs $baseline | user CPU/req vs $baseline |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for conns in "${conns_values[@]}"; do
		for s in "${scenarios[@]}"; do
			local rps p50 p99 cpu user ratio_rps ratio_p99 ratio_cpu ratio_user
			rps=$(column_of "$s" "$conns" 4)
			p50=$(column_of "$s" "$conns" 5)
			p99=$(column_of "$s" "$conns" 6)
			cpu=$(column_of "$s" "$conns" 7)
			user=$(column_of "$s" "$conns" 12)
			ratio_rps=$(paired_ratio "$s" "$conns" 4)
			ratio_p99=$(paired_ratio "$s" "$conns" 6)
			ratio_cpu=$(paired_ratio "$s" "$conns" 7)
			ratio_user=$(paired_ratio "$s" "$conns" 12)
			printf '| %s | %s | %.0f | %s | %s | %.1f | %.1f | %s | %s | %s | %s |\n' \
				"$s" "$conns" "$rps" "$(ms "$p50")" "$(ms "$p99")" "$cpu" "$user" "$ratio_rps" "$ratio_p99" "$ratio_cpu" "$ratio_user"
		done
	done
	echo
	echo "Each round, in the order run:"
	echo
	echo "| round | scenario | conns | req/s | p50 ms | p99 ms | proxy CPU µs/req | of it user | proxy CPU % | other load %, proxy CPUs | other load %, load CPUs | socket errors |"
	echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	while IFS=$'\t' read -r round s conns rps p50 p99 cpu cpu_pct other_pct load_other_pct errors user; do
		printf '| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
			"$round" "$s" "$conns" "$rps" "$(ms "$p50")" "$(ms "$p99")" "$cpu" "$user" "$cpu_pct" "$other_pct" "$load_other_pct" "$errors"
	done <"$results"
}

settings() {
	local commit
	commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n $(git -C "$repo" status --porcelain 2>/dev/null) ]]; then
		commit="$commit plus uncommitted changes"
	fi
	echo "- command: \`$command_line\`"
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit"
	echo "- wrk: $threads threads, $warmup warmup then $duration measured per run, --latency; $rounds rounds, scenario order reversed in even rounds; figures are the median of the rounds (with 2 rounds, the mean of the two); a ratio is the median over rounds of the scenario's figure divided by the baseline's in the same round"
	echo "- pinning: $pinning; upstream GOMAXPROCS=$upstream_procs, $body_size-byte JSON body"
	if ((wait_idle > 0)); then
		echo "- before each measured run, waited up to ${wait_idle}s for the machine to be under 10% busy"
	fi
	echo "- key: one key 'bench' with scope inventory:read for 127.0.0.1/32 and ::1/128, made by awragate keys create for this run"
	local processes="a fresh process per run"
	((keep_proxies)) && processes="one process per scenario for the whole run (--keep-proxies), measured in turns"
	((paired)) && processes="one process per scenario for the whole run; each scenario measured at the same time as ${scenarios[0]} (--paired), the two proxies sharing the proxy CPUs, each loaded by its own wrk; a round is named ROUND:SCENARIO, and a ratio divides a scenario's figure by that of the ${scenarios[0]} run beside it"
	echo "- proxy: reverse_proxy with transport http keepalive 2m, keepalive_idle_conns 1024, keepalive_idle_conns_per_host 1024; admin off; log level ERROR; $processes"
	echo "- proxy CPU µs/req: user plus system CPU time of the proxy process during the measured run, divided by the requests wrk completed; of it user: the user-mode part of that time (the proxy's own code; the rest is the kernel's work on its sockets); proxy CPU %: that time over the run's length (100% is one CPU); other load %: busy time on the proxy's CPUs not used by the proxy, and on the load CPUs not used by wrk and the upstream (other processes, interrupts), as a share of those CPUs$( ((pin)) || echo "; unpinned, both are the busy time of all CPUs not used by the proxy, wrk and the upstream")"
	echo "- load average (1, 5, 15 min) before the first run: $load_before; after the last: $(cut -d ' ' -f 1-3 /proc/loadavg)"
	local s
	for s in "${scenarios[@]}"; do
		echo "- $s: $("scenario_${s}_title")"
	done
}
