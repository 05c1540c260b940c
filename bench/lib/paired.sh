# shellcheck shell=bash
# Paired measurement (--paired): the baseline's proxy and another
# scenario's proxy share the proxy CPUs and are loaded at the same time,
# each by its own wrk. Sourced by run.sh; uses its globals.
#
# Why: on a shared virtual machine the speed of a CPU changes from one
# second to the next, by 20% or more between two runs a few seconds apart.
# Two proxies measured at the same time see the same machine. Each gets
# about half of the proxy CPUs, so the ratio of their throughputs is the
# inverse ratio of their CPU time per request, which is what a slower
# handler costs. Absolute req/s are about half of a single proxy's.
#
# What it cannot show: time a proxy spends blocked with work waiting (a
# spool fsync that holds Go's only P) goes to the other proxy instead of
# being lost, so a stall costs less here than in sequential runs.

# wrk_start CONNS DURATION OUTPUT starts wrk against proxy_url with
# wrk_args in the background and sets wrk_started_pid.
wrk_start() {
	local conns=$1 run_duration=$2 output=$3 limit
	limit=$(($(to_seconds "$run_duration") + 30))
	"${load_pin[@]}" timeout -k 5 "$limit" \
		wrk -t "$threads" -c "$conns" -d "$run_duration" --latency "${wrk_args[@]}" "$proxy_url" >"$output" 2>&1 &
	wrk_started_pid=$!
	pids+=("$wrk_started_pid")
}

# wrk_finish PID OUTPUT waits for a wrk started by wrk_start.
wrk_finish() {
	local pid=$1 output=$2 status=0
	wait "$pid" || status=$?
	forget_pid "$pid"
	((status == 0)) || die "wrk failed with exit status $status: $(tail -n 5 "$output")"
}

# pair_run CONNS DURATION SUFFIX runs wrk against both proxies of the pair
# at once, writing to $pair_raw_a$SUFFIX and $pair_raw_b$SUFFIX.
pair_run() {
	local conns=$1 run_duration=$2 suffix=$3 pid_a pid_b
	proxy_url=$pair_url_a
	wrk_args=("${pair_args_a[@]}")
	wrk_start "$conns" "$run_duration" "$pair_raw_a$suffix"
	pid_a=$wrk_started_pid
	proxy_url=$pair_url_b
	wrk_args=("${pair_args_b[@]}")
	wrk_start "$conns" "$run_duration" "$pair_raw_b$suffix"
	pid_b=$wrk_started_pid
	wrk_finish "$pid_a" "$pair_raw_a$suffix"
	wrk_finish "$pid_b" "$pair_raw_b$suffix"
}

# measure_pair ROUND SCENARIO CONNS measures the baseline and SCENARIO at
# the same time and appends a row for each to the results file. Both rows
# carry the round as ROUND:SCENARIO, so that the report divides SCENARIO's
# figures by those of the baseline run beside it.
measure_pair() {
	local round=$1 scenario=$2 conns=$3 baseline=${scenarios[0]}
	local -A before after
	await_idle

	use_proxy "$baseline"
	pair_pid_a=$proxy_pid
	pair_url_a=$proxy_url
	pair_args_a=("${wrk_args[@]}")
	pair_raw_a=$work/raw/r$round-$scenario-c$conns-$baseline.txt
	use_proxy "$scenario"
	pair_pid_b=$proxy_pid
	pair_url_b=$proxy_url
	pair_args_b=("${wrk_args[@]}")
	pair_raw_b=$work/raw/r$round-$scenario-c$conns.txt

	pair_run "$conns" "$warmup" .warmup
	sample_counters before "$pair_pid_a" "$pair_pid_b"
	pair_run "$conns" "$duration" ""
	sample_counters after "$pair_pid_a" "$pair_pid_b"

	local a_ticks=$((after[proxy:$pair_pid_a] - before[proxy:$pair_pid_a]))
	local b_ticks=$((after[proxy:$pair_pid_b] - before[proxy:$pair_pid_b]))
	local proxy_other load_other
	other_ticks before after $((a_ticks + b_ticks))
	append_row "$round:$scenario" "$baseline" "$conns" "$pair_raw_a" "$a_ticks" \
		$((after[user:$pair_pid_a] - before[user:$pair_pid_a])) "$proxy_other" "$load_other"
	append_row "$round:$scenario" "$scenario" "$conns" "$pair_raw_b" "$b_ticks" \
		$((after[user:$pair_pid_b] - before[user:$pair_pid_b])) "$proxy_other" "$load_other"
}
