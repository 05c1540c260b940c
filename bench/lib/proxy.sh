# shellcheck shell=bash
# The proxy under test: its Caddyfile, start-up checks, the wrk runs
# against it and one measurement. Sourced by run.sh; uses its globals.

# write_caddyfile SCENARIO PORT ADMIN prints the Caddyfile of one scenario.
# ADMIN is "off" or a loopback address for the admin API.
write_caddyfile() {
	local scenario=$1 port=$2 admin=$3
	cat <<EOF
{
	admin $admin
	persist_config off
	auto_https off
	log default {
		level ERROR
	}
$("scenario_${scenario}_global")
}

:$port {
	bind 127.0.0.1
$("scenario_${scenario}_handlers")
	reverse_proxy $upstream_addr {
		transport http {
			keepalive 2m
			keepalive_idle_conns 1024
			keepalive_idle_conns_per_host 1024
		}
	}
}
EOF
}

# Proxies started once by --keep-proxies, by scenario: PID and port.
declare -A kept_pid=() kept_port=()

# keep_proxy SCENARIO starts SCENARIO's proxy for the whole run.
keep_proxy() {
	start_proxy "$1" off
	kept_pid[$1]=$proxy_pid
	kept_port[$1]=$proxy_port
}

# use_proxy SCENARIO makes SCENARIO's proxy the one under test: the kept
# one with --keep-proxies, else a fresh one.
use_proxy() {
	local scenario=$1
	if ((!keep_proxies)); then
		start_proxy "$scenario" off
		return
	fi
	proxy_pid=${kept_pid[$scenario]}
	proxy_port=${kept_port[$scenario]}
	is_running "$proxy_pid" || die "awragate ($scenario) has exited: $(tail -n 5 "$work/$scenario.log")"
	# The scenario's wrk arguments and path may depend on the port.
	proxy_env=()
	"scenario_${scenario}_wrk"
	proxy_url=http://127.0.0.1:$proxy_port$request_path
}

# release_proxy stops the proxy under test unless it is kept for the run.
release_proxy() {
	((keep_proxies)) || stop_pid "$proxy_pid"
}

# stop_kept_proxies stops the proxies that --keep-proxies started.
stop_kept_proxies() {
	local s
	for s in "${!kept_pid[@]}"; do
		stop_pid "${kept_pid[$s]}"
	done
	kept_pid=()
	kept_port=()
}

# http_status URL [curl args...] prints the status code of one GET.
http_status() {
	local url=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" || true
}

# start_proxy SCENARIO ADMIN starts awragate for SCENARIO and sets
# proxy_pid and proxy_url. ADMIN is "off" or "on" (the admin API on a free
# loopback port, in admin_addr). A port taken between free_port and the
# bind gets up to two more tries on new ports. It checks that an authorized
# request gets 200 and an anonymous one the scenario's expected status.
start_proxy() {
	local scenario=$1 admin=$2 attempt
	for ((attempt = 1; attempt <= 3; attempt++)); do
		launch_proxy "$scenario" "$admin"
		((bind_failed)) || break
		((attempt < 3)) || die "awragate ($scenario): ports were taken at bind time on 3 tries: $(tail -n 2 "$work/$scenario.log")"
		echo "bench: a port was taken before awragate could bind it; retrying on new ports" >&2
	done

	local want status
	want=$("scenario_${scenario}_anonymous")
	status=$(http_status "http://127.0.0.1:$proxy_port$anonymous_path")
	[[ $status == "$want" ]] || die "awragate ($scenario): a request without a key got status $status, expected $want"
}

# launch_proxy SCENARIO ADMIN writes the config, starts awragate and waits
# until an authorized request gets 200. It sets bind_failed to 1 when
# awragate exited because an address was already in use, and stops the
# script on any other failure. (A status flag rather than a return code,
# because bash ignores set -e inside a function called from "||" or "&&".)
launch_proxy() {
	local scenario=$1 admin=$2 port config log i status
	bind_failed=0
	port=$(free_port)
	admin_addr=off
	if [[ $admin == on ]]; then
		admin_addr=127.0.0.1:$(free_port)
	fi
	config=$work/$scenario.Caddyfile
	log=$work/$scenario.log
	if declare -F "scenario_${scenario}_setup" >/dev/null; then
		"scenario_${scenario}_setup"
	fi
	# Optional per-scenario parts: proxy_env (variables only the proxy
	# gets), probe_args (curl arguments of the authorized check) and
	# anonymous_path (the path of the check without a credential).
	proxy_env=()
	probe_args=(-H @"$work/auth.header")
	proxy_port=$port
	"scenario_${scenario}_wrk"
	anonymous_path=$request_path
	if declare -F "scenario_${scenario}_probe" >/dev/null; then
		"scenario_${scenario}_probe"
	fi
	proxy_url=http://127.0.0.1:$port$request_path

	if declare -F "scenario_${scenario}_start" >/dev/null; then
		# A scenario that is not awragate starts its own server here and
		# sets proxy_pid.
		"scenario_${scenario}_start" "$port" "$log"
	else
		write_caddyfile "$scenario" "$port" "$admin_addr" >"$config"
		"${proxy_pin[@]}" env "${proxy_env[@]}" "$awragate" run --config "$config" --adapter caddyfile >"$log" 2>&1 &
		proxy_pid=$!
		pids+=("$proxy_pid")
	fi

	# proxy_start_tries, 0.1 s apart, is 100 unless the caller set it (a
	# proxy under valgrind starts slower).
	status=000
	for ((i = 0; i < ${proxy_start_tries:-100}; i++)); do
		if ! is_running "$proxy_pid"; then
			wait "$proxy_pid" 2>/dev/null || true
			forget_pid "$proxy_pid"
			if grep -q 'address already in use' "$log"; then
				bind_failed=1
				return 0
			fi
			die "awragate ($scenario) exited at start: $(tail -n 5 "$log")"
		fi
		status=$(http_status "$proxy_url" "${probe_args[@]}")
		[[ $status == 000 ]] || break
		sleep 0.1
	done
	[[ $status == 200 ]] || die "awragate ($scenario): an authorized request got status $status, expected 200; its log: $(tail -n 5 "$log")"
}

# wrk_run CONNS DURATION OUTPUT runs wrk against proxy_url. wrk runs in the
# background and the script waits for it, because bash runs a signal trap
# only after a foreground command ends, and cleanup should not wait for a
# whole run.
wrk_run() {
	local conns=$1 run_duration=$2 output=$3 limit wrk_pid status=0
	limit=$(($(to_seconds "$run_duration") + 30))
	"${load_pin[@]}" timeout -k 5 "$limit" \
		wrk -t "$threads" -c "$conns" -d "$run_duration" --latency "${wrk_args[@]}" "$proxy_url" >"$output" 2>&1 &
	wrk_pid=$!
	pids+=("$wrk_pid")
	wait "$wrk_pid" || status=$?
	forget_pid "$wrk_pid"
	((status == 0)) || die "wrk failed with exit status $status: $(tail -n 5 "$output")"
}

# parse_wrk FILE prints: req/s, p50 µs, p99 µs, requests, non-2xx/3xx
# responses and socket errors.
parse_wrk() {
	awk '
	function micros(v,    n, u) {
		n = v + 0
		u = v
		sub(/^[0-9.]+/, "", u)
		if (u == "us") return n
		if (u == "ms") return n * 1000
		if (u == "s") return n * 1000000
		if (u == "m") return n * 60000000
		if (u == "h") return n * 3600000000
		return -1
	}
	/^ +50% / { p50 = micros($2) }
	/^ +99% / { p99 = micros($2) }
	/ requests in / { requests = $1 }
	/^Requests\/sec:/ { rps = $2 }
	/Non-2xx or 3xx responses:/ { non2xx = $NF }
	/Socket errors:/ {
		gsub(/,/, "")
		errors = $4 + $6 + $8 + $10
	}
	END {
		if (rps == "" || p50 == "" || p99 == "" || p50 < 0 || p99 < 0) exit 1
		printf "%.2f %.0f %.0f %d %d %d\n", rps, p50, p99, requests, non2xx, errors
	}' "$1"
}

# sample_counters NAME PID... fills the associative array NAME with the
# clock ticks that a measurement compares before and after a run. The keys:
# proxy:PID and user:PID for each proxy PID (its CPU time and the user part
# of it), upstream and wrk (their CPU time), proxy_set and load_set (busy
# time of those CPUs). It runs in this shell, not in a command
# substitution, because child_cpu_ticks must.
sample_counters() {
	local -n out=$1
	shift
	child_cpu_ticks >"$work/wrk.ticks"
	out=(
		[upstream]=$(cpu_ticks "$upstream_pid")
		[wrk]=$(<"$work/wrk.ticks")
		[proxy_set]=$(busy_ticks "$proxy_cpu_set")
		[load_set]=$(busy_ticks "$load_cpu_set")
	)
	local pid
	for pid in "$@"; do
		out[proxy:$pid]=$(cpu_ticks "$pid")
		out[user:$pid]=$(user_ticks "$pid")
	done
}

# other_ticks BEFORE AFTER PROXY_TICKS sets proxy_other and load_other to
# the busy ticks of the proxy CPUs and of the load CPUs that none of the
# benchmark's processes used during the run. PROXY_TICKS is the CPU time of
# the proxies measured. Such other work (other processes, interrupts, the
# hypervisor's steal) takes time from the proxy on its CPUs, and slows wrk
# and the upstream on the load CPUs.
other_ticks() {
	local -n first=$1 last=$2
	local proxy_ticks=$3
	local load_ticks=$((last[upstream] - first[upstream] + last[wrk] - first[wrk]))
	local proxy_busy=$((last[proxy_set] - first[proxy_set]))
	local load_busy=$((last[load_set] - first[load_set]))
	if ((pin)); then
		proxy_other=$((proxy_busy - proxy_ticks))
		load_other=$((load_busy - load_ticks))
	else
		proxy_other=$((proxy_busy - proxy_ticks - load_ticks))
		load_other=$proxy_other
	fi
}

# measure ROUND SCENARIO CONNS runs one warmup and one measured wrk run on
# the scenario's proxy and appends a row to the results file.
measure() {
	local round=$1 scenario=$2 conns=$3 raw
	local -A before after
	raw=$work/raw/r$round-$scenario-c$conns.txt
	await_idle
	use_proxy "$scenario"

	wrk_run "$conns" "$warmup" "$raw.warmup"
	sample_counters before "$proxy_pid"
	wrk_run "$conns" "$duration" "$raw"
	sample_counters after "$proxy_pid"
	release_proxy

	# Other work on the machine moves the proxy's CPU time per request less
	# than its req/s, though it moves both. The proxy's CPU use shows
	# whether it was the bottleneck (near 100% of its CPUs) or was held
	# back.
	local proxy_ticks=$((after[proxy:$proxy_pid] - before[proxy:$proxy_pid]))
	local user_ticks=$((after[user:$proxy_pid] - before[user:$proxy_pid]))
	local proxy_other load_other
	other_ticks before after "$proxy_ticks"

	append_row "$round" "$scenario" "$conns" "$raw" "$proxy_ticks" "$user_ticks" "$proxy_other" "$load_other"
}

# append_row ROUND SCENARIO CONNS RAW TICKS USER_TICKS PROXY_OTHER LOAD_OTHER
# reads one proxy's wrk output RAW, appends its row to the results file and
# prints it. TICKS and USER_TICKS are the proxy's CPU time during the run;
# PROXY_OTHER and LOAD_OTHER are the busy ticks of the proxy CPUs and of the
# load CPUs that the benchmark's processes did not use.
append_row() {
	local round=$1 scenario=$2 conns=$3 raw=$4 proxy_ticks=$5 user_ticks=$6 proxy_other=$7 load_other=$8
	local figures rps p50 p99 requests non2xx errors
	figures=$(parse_wrk "$raw") || die "could not read wrk's output: $(cat "$raw")"
	read -r rps p50 p99 requests non2xx errors <<<"$figures"
	((non2xx == 0)) || die "$scenario at $conns connections: $non2xx responses were not 2xx or 3xx; the figures would measure errors, so the run stops"

	local cpu_us user_us cpu_pct other_pct load_other_pct
	cpu_us=$(awk -v t="$proxy_ticks" -v hz="$clock_ticks" -v n="$requests" 'BEGIN { printf "%.1f", (n > 0) ? t / hz * 1e6 / n : 0 }')
	user_us=$(awk -v t="$user_ticks" -v hz="$clock_ticks" -v n="$requests" 'BEGIN { printf "%.1f", (n > 0) ? t / hz * 1e6 / n : 0 }')
	cpu_pct=$(awk -v t="$proxy_ticks" -v hz="$clock_ticks" -v d="$duration_s" 'BEGIN { printf "%.0f", t / hz / d * 100 }')
	other_pct=$(share_percent "$proxy_other" "$proxy_cpu_count")
	load_other_pct=$(share_percent "$load_other" "$load_cpu_count")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$scenario" "$conns" "$rps" "$p50" "$p99" "$cpu_us" "$cpu_pct" "$other_pct" "$load_other_pct" "$errors" "$user_us" >>"$results"
	printf 'bench: round %-3s %-11s c=%-4s %10s req/s  p50 %6s us  p99 %7s us  proxy CPU %5s us/req (user %5s), %3s%%  other load %3s%% proxy, %3s%% load  socket errors %s\n' \
		"$round" "$scenario" "$conns" "$rps" "$p50" "$p99" "$cpu_us" "$user_us" "$cpu_pct" "$other_pct" "$load_other_pct" "$errors" >&2
}
