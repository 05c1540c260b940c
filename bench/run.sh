#!/usr/bin/env bash
# Load benchmark: plain Caddy against the awragate gateway, both built from
# this checkout and proxying to the same upstream on 127.0.0.1.
#
#   bench/run.sh [--duration 10s] [--conns "16 64"] [--rounds 2] [--out FILE]
#
# Run it from the repository root. It needs Go, wrk and curl, and pins
# processes to CPUs with taskset when present. See usage() for every option and bench/RESULTS.md for
# recorded figures.
#
# Each scenario is a set of functions named scenario_<name>_<part> in
# lib/scenarios.sh, so a new one (signed URLs, webhooks) is a new block of
# functions there, run with --scenarios or added to the default list.
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/processes.sh
source "$bench_dir/lib/processes.sh"
# shellcheck source=lib/cpu.sh
source "$bench_dir/lib/cpu.sh"
# shellcheck source=lib/scenarios.sh
source "$bench_dir/lib/scenarios.sh"
# shellcheck source=lib/proxy.sh
source "$bench_dir/lib/proxy.sh"
# shellcheck source=lib/report.sh
source "$bench_dir/lib/report.sh"
# shellcheck source=lib/paired.sh
source "$bench_dir/lib/paired.sh"
# shellcheck source=lib/setup.sh
source "$bench_dir/lib/setup.sh"

usage() {
	cat <<'USAGE'
usage: bench/run.sh [options]

  --duration D      length of each measured wrk run (wrk syntax: 10s, 1m); default 10s
  --warmup D        unmeasured wrk run before each measured one; default 2s
  --conns "N ..."   wrk connection counts, space-separated; default "16 64"
  --threads N       wrk threads; default 2
  --rounds N        rounds over all scenarios; the table reports the median
                    of the rounds; default 2
  --scenarios "S .."  scenarios to run; default "plain gateway" (the first is
                    the baseline of the ratio columns); also defined:
                    gateway_id, audit, audit_redis, ratelimit_redis,
                    signed_url, signed_url_key_id, plain_link,
                    nginx_secure_link, webhook,
                    plain_post, plain_twin (see bench/lib/scenarios.sh)
  --proxy-cpus LIST CPUs (taskset list) for the proxy under test; default 0
  --load-cpus LIST  CPUs for wrk and the upstream; default 1
  --no-pin          run everything unpinned on all CPUs
  --keep-proxies    start each scenario's proxy once, before the first round,
                    and measure the proxies in turns; an idle proxy uses no
                    CPU. Without it, every run gets a fresh proxy. Not for
                    scenarios whose proxy keeps state between runs (webhook)
  --paired          measure each scenario at the same time as the baseline
                    (the first scenario), each proxy on the proxy CPUs with
                    its own wrk, instead of one after the other; implies
                    --keep-proxies. Machine speed that drifts between runs
                    then cancels out of the ratios. Scenario plain_twin, a
                    second plain proxy, shows the method's own spread. See
                    bench/lib/paired.sh
  --upstream-procs N  GOMAXPROCS of the upstream; default 1
  --body-size N     upstream response body in bytes; default 200
  --wait-idle S     before each measured run, wait up to S seconds for the
                    machine to be idle (under 10% CPU busy over one second),
                    so that other work sharing it skews fewer runs; default 0
  --profile DIR     after the measured rounds, run each scenario once more at
                    the highest connection count with the admin API on a
                    loopback port, and save a CPU profile of the proxy to
                    DIR/cpu-<scenario>-c<conns>.pprof and its allocations
                    since start to DIR/allocs-<scenario>-c<conns>.pprof
                    (not part of the table)
  --out FILE        also write the results as Markdown to FILE
  -h, --help        show this help

Exit status: 0 on success, 1 on a failed run, 2 when wrk is missing or an
option is invalid.
USAGE
}

# ---------------------------------------------------------------- options

duration=10s
warmup=2s
conns_list="16 64"
threads=2
rounds=2
scenario_list="plain gateway"
proxy_cpus=0
load_cpus=1
pin=1
keep_proxies=0
paired=0
upstream_procs=1
body_size=200
profile_dir=""
wait_idle=0
out_file=""
command_line="bench/run.sh$(printf " %q" "$@")"

die() {
	echo "bench: $*" >&2
	exit 1
}

usage_error() {
	echo "bench: $*" >&2
	echo "run 'bench/run.sh --help' for the options" >&2
	exit 2
}

while (($# > 0)); do
	case $1 in
	--duration | --warmup | --conns | --threads | --rounds | --scenarios | --proxy-cpus | --load-cpus | --upstream-procs | --body-size | --wait-idle | --profile | --out)
		(($# >= 2)) || usage_error "option '$1' needs a value"
		case $1 in
		--duration) duration=$2 ;;
		--warmup) warmup=$2 ;;
		--conns) conns_list=$2 ;;
		--threads) threads=$2 ;;
		--rounds) rounds=$2 ;;
		--scenarios) scenario_list=$2 ;;
		--proxy-cpus) proxy_cpus=$2 ;;
		--load-cpus) load_cpus=$2 ;;
		--upstream-procs) upstream_procs=$2 ;;
		--body-size) body_size=$2 ;;
		--wait-idle) wait_idle=$2 ;;
		--profile) profile_dir=$2 ;;
		--out) out_file=$2 ;;
		esac
		shift 2
		;;
	--no-pin)
		pin=0
		shift
		;;
	--keep-proxies)
		keep_proxies=1
		shift
		;;
	--paired)
		paired=1
		keep_proxies=1
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) usage_error "unknown option '$1'" ;;
	esac
done

# to_seconds converts a wrk duration (plain seconds, or a number with s, m
# or h) to whole seconds, rounded up.
to_seconds() {
	local value=$1 number unit
	if [[ ! $value =~ ^([0-9]+([.][0-9]+)?)([smh]?)$ ]]; then
		return 1
	fi
	number=${BASH_REMATCH[1]}
	unit=${BASH_REMATCH[3]}
	awk -v n="$number" -v u="$unit" 'BEGIN {
		m = (u == "m") ? 60 : (u == "h") ? 3600 : 1
		s = n * m
		printf "%d\n", (s == int(s)) ? s : int(s) + 1
	}'
}

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

duration_s=$(to_seconds "$duration") || usage_error "invalid --duration '$duration': use a wrk duration such as 10s or 1m"
warmup_s=$(to_seconds "$warmup") || usage_error "invalid --warmup '$warmup': use a wrk duration such as 2s"
((duration_s > 0)) || usage_error "invalid --duration '$duration': use at least 1s"
is_count "$threads" || usage_error "invalid --threads '$threads': use a whole number of at least 1"
is_count "$rounds" || usage_error "invalid --rounds '$rounds': use a whole number of at least 1"
is_count "$upstream_procs" || usage_error "invalid --upstream-procs '$upstream_procs': use a whole number of at least 1"
is_count "$body_size" || usage_error "invalid --body-size '$body_size': use a whole number of bytes"
[[ $wait_idle =~ ^[0-9]+$ ]] || usage_error "invalid --wait-idle '$wait_idle': use a whole number of seconds"
read -r -a conns_values <<<"$conns_list"
((${#conns_values[@]} > 0)) || usage_error "--conns is empty: give connection counts such as \"16 64\""
for c in "${conns_values[@]}"; do
	is_count "$c" || usage_error "invalid connection count '$c' in --conns: use whole numbers such as \"16 64\""
	((c >= threads)) || usage_error "connection count $c is below --threads $threads: wrk needs at least one connection per thread"
done
read -r -a scenarios <<<"$scenario_list"
((${#scenarios[@]} > 0)) || usage_error "--scenarios is empty: give names such as \"plain gateway\""
((!paired || ${#scenarios[@]} > 1)) || usage_error "--paired needs a baseline and at least one more scenario, such as --scenarios \"plain gateway\""

expand_cpus "$proxy_cpus" >/dev/null || usage_error "invalid --proxy-cpus '$proxy_cpus': use a taskset list such as 0, 0-1 or 0,2"
expand_cpus "$load_cpus" >/dev/null || usage_error "invalid --load-cpus '$load_cpus': use a taskset list such as 1"

if ! command -v wrk >/dev/null 2>&1; then
	echo "bench: wrk is not installed; install it with:" >&2
	echo "  apt-get install -y wrk" >&2
	exit 2
fi
command -v go >/dev/null 2>&1 || die "go is not on PATH: install Go 1.26 or add it to PATH"
command -v curl >/dev/null 2>&1 || die "curl is not on PATH: it checks each server before the load run; install it with 'apt-get install -y curl'"

if ((pin)) && ! command -v taskset >/dev/null 2>&1; then
	echo "bench: taskset not found; running unpinned" >&2
	pin=0
fi
if ((pin)) && (($(nproc) < 2)); then
	echo "bench: only $(nproc) CPU; running unpinned" >&2
	pin=0
fi

# --out and --profile are relative to the directory the script was started
# in, which stops being the working directory below.
[[ -z $out_file || $out_file == /* ]] || out_file=$PWD/$out_file
[[ -z $profile_dir || $profile_dir == /* ]] || profile_dir=$PWD/$profile_dir

repo=$(cd "$bench_dir/.." && pwd)
cd "$repo"

# ---------------------------------------------------------------- processes

start_work_dir

# Command prefixes that pin a process to its CPUs, or nothing when pinning
# is off. They are arrays rather than a function so that "cmd &" starts the
# program itself (taskset execs it) and $! is the program's own PID.
proxy_pin=()
load_pin=()
proxy_cpu_set=0-$(($(nproc) - 1))
if ((pin)); then
	proxy_cpu_set=$proxy_cpus
	proxy_pin=(taskset -c "$proxy_cpus")
	load_pin=(taskset -c "$load_cpus")
fi
load_cpu_set=$proxy_cpu_set
((pin)) && load_cpu_set=$load_cpus
proxy_cpu_count=$(expand_cpus "$proxy_cpu_set" | wc -l)
load_cpu_count=$(expand_cpus "$load_cpu_set" | wc -l)

clock_ticks=$(getconf CLK_TCK)

# ---------------------------------------------------------------- scenarios

# Set by start_redis when a scenario needs Redis.
redis_addr=""

# Every scenario named in --scenarios must be defined in lib/scenarios.sh.
for s in "${scenarios[@]}"; do
	declare -F "scenario_${s}_title" >/dev/null || usage_error "unknown scenario '$s': defined scenarios are $(declare -F | awk '$3 ~ /^scenario_.*_title$/ { sub(/^scenario_/, "", $3); sub(/_title$/, "", $3); printf "%s ", $3 }')"
	if ((keep_proxies)) && declare -F "scenario_${s}_needs_fresh_proxy" >/dev/null; then
		usage_error "scenario '$s' needs a fresh proxy for every run: $("scenario_${s}_needs_fresh_proxy"). Run it without --keep-proxies or --paired"
	fi
done

# ---------------------------------------------------------------- setup

build_binaries
make_credentials
start_upstream

# One row per measured run, written by measure.
results=$work/results.tsv
: >"$results"

# ---------------------------------------------------------------- run

if ((pin)); then
	pinning="proxy on CPU $proxy_cpus; wrk and upstream on CPU $load_cpus (taskset)"
else
	pinning="none"
fi
echo "bench: upstream $upstream_addr, pinning: $pinning" >&2
load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)

if ((keep_proxies)); then
	for s in "${scenarios[@]}"; do
		keep_proxy "$s"
	done
fi

for ((round = 1; round <= rounds; round++)); do
	# Alternate the order so that a drift in machine speed over the run
	# does not always favour the same scenario.
	order=("${scenarios[@]}")
	if ((round % 2 == 0)); then
		order=()
		for ((i = ${#scenarios[@]} - 1; i >= 0; i--)); do
			order+=("${scenarios[i]}")
		done
	fi
	for conns in "${conns_values[@]}"; do
		for s in "${order[@]}"; do
			if ((!paired)); then
				measure "$round" "$s" "$conns"
			elif [[ $s != "${scenarios[0]}" ]]; then
				measure_pair "$round" "$s" "$conns"
			fi
		done
	done
done

if ((keep_proxies)); then
	stop_kept_proxies
fi

if [[ -n $profile_dir ]]; then
	mkdir -p "$profile_dir"
	profile_conns=${conns_values[-1]}
	profile_s=$((duration_s > 4 ? duration_s - 2 : duration_s))
	for s in "${scenarios[@]}"; do
		start_proxy "$s" on
		wrk_run "$profile_conns" "$warmup" "$work/raw/profile-$s.warmup"
		curl -s --max-time $((profile_s + 30)) -o "$profile_dir/cpu-$s-c$profile_conns.pprof" \
			"http://$admin_addr/debug/pprof/profile?seconds=$profile_s" &
		curl_pid=$!
		pids+=("$curl_pid")
		wrk_run "$profile_conns" "$duration" "$work/raw/profile-$s.txt"
		wait "$curl_pid" || die "fetching the CPU profile of $s failed"
		forget_pid "$curl_pid"
		curl -s --max-time 30 -o "$profile_dir/allocs-$s-c$profile_conns.pprof" "http://$admin_addr/debug/pprof/allocs" ||
			die "fetching the allocation profile of $s failed"
		stop_pid "$proxy_pid"
		echo "bench: wrote $profile_dir/cpu-$s-c$profile_conns.pprof and allocs-$s-c$profile_conns.pprof" >&2
	done
fi

# ---------------------------------------------------------------- report

table=$(report)
echo
echo "$table"

if [[ -n $out_file ]]; then
	{
		echo "# awragate load benchmark"
		echo
		settings
		echo
		echo "$table"
	} >"$out_file"
	echo "bench: wrote $out_file" >&2
fi
