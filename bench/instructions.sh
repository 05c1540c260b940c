#!/usr/bin/env bash
# Instruction counts per request: each scenario's proxy runs under
# valgrind's callgrind, which counts the instructions the process executes
# in user space. The count does not depend on how fast or busy the machine
# is, so two runs of the same binary give nearly the same figure, where
# bench/run.sh's throughput on a shared VM drifts by 20% between runs.
#
#   bench/instructions.sh [--scenarios "plain gateway"] [--requests 10000] [--out FILE]
#
# What the count leaves out: time in the kernel (the socket system calls,
# 27% to 30% of the proxy's CPU time in the CPU profiles of
# bench/RESULTS.md), cache misses, and anything that depends on speed.
# Under valgrind the proxy runs about 25 times slower, so the audit writer,
# which commits every commit_interval, commits smaller batches than at full
# speed, and the audit scenarios' counts overstate their cost per request.
# valgrind also hides SHA-NI, so SHA-256 runs its AVX2 code here.
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/processes.sh
source "$bench_dir/lib/processes.sh"
# shellcheck source=lib/scenarios.sh
source "$bench_dir/lib/scenarios.sh"
# shellcheck source=lib/proxy.sh
source "$bench_dir/lib/proxy.sh"
# shellcheck source=lib/setup.sh
source "$bench_dir/lib/setup.sh"

usage() {
	cat <<'USAGE'
usage: bench/instructions.sh [options]

  --scenarios "S .."  scenarios to count, as in bench/run.sh; the first is
                    the baseline of the ratio column; default "plain gateway".
                    Scenarios that POST from a wrk script (webhook,
                    plain_post) or run another server (nginx_secure_link)
                    are not supported
  --requests N      requests counted per run, after 500 uncounted ones;
                    default 10000
  --conns N         connections of the load client; default 8
  --rounds N        runs per scenario, each with a fresh proxy; the table
                    reports the median; default 1
  --out FILE        also write the results as Markdown to FILE
  --keep DIR        copy each run's callgrind dump to DIR/<scenario>.<round>
                    for function-level comparison, for example with
                    callgrind_annotate --inclusive=yes
  -h, --help        show this help

What the count leaves out: kernel time (the socket system calls, 27% to
30% of the proxy's CPU time in CPU profiles), cache misses, and the CPU's
SHA extensions, which valgrind hides, so SHA-256 takes about three times
the instructions. The proxy runs about
25 times slower than at full speed, so the audit writer commits smaller
batches and the audit scenarios' counts overstate their cost per event.
bench/RESULTS.md, section "Instruction counts", has figures.

It needs Go, curl and valgrind (apt-get install -y valgrind). Exit status:
0 on success, 1 on a failed run, 2 when valgrind is missing or an option is
invalid.
USAGE
}

die() {
	echo "bench: $*" >&2
	exit 1
}

usage_error() {
	echo "bench: $*" >&2
	echo "run 'bench/instructions.sh --help' for the options" >&2
	exit 2
}

scenario_list="plain gateway"
requests=10000
conns=8
rounds=1
out_file=""
keep_dir=""
warm_requests=500
command_line="bench/instructions.sh$(printf " %q" "$@")"

while (($# > 0)); do
	case $1 in
	--scenarios | --requests | --conns | --rounds | --out | --keep)
		(($# >= 2)) || usage_error "option '$1' needs a value"
		case $1 in
		--scenarios) scenario_list=$2 ;;
		--requests) requests=$2 ;;
		--conns) conns=$2 ;;
		--rounds) rounds=$2 ;;
		--out) out_file=$2 ;;
		--keep) keep_dir=$2 ;;
		esac
		shift 2
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) usage_error "unknown option '$1'" ;;
	esac
done

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
is_count "$requests" || usage_error "invalid --requests '$requests': use a whole number of at least 1"
is_count "$conns" || usage_error "invalid --conns '$conns': use a whole number of at least 1"
is_count "$rounds" || usage_error "invalid --rounds '$rounds': use a whole number of at least 1"
read -r -a scenarios <<<"$scenario_list"
((${#scenarios[@]} > 0)) || usage_error "--scenarios is empty: give names such as \"plain gateway\""
for s in "${scenarios[@]}"; do
	declare -F "scenario_${s}_title" >/dev/null || usage_error "unknown scenario '$s': defined scenarios are $(declare -F | awk '$3 ~ /^scenario_.*_title$/ { sub(/^scenario_/, "", $3); sub(/_title$/, "", $3); printf "%s ", $3 }')(see bench/lib/scenarios.sh)"
	if declare -F "scenario_${s}_start" >/dev/null; then
		usage_error "scenario '$s' runs another server than awragate, which this script does not count"
	fi
	if declare -f "scenario_${s}_wrk" | grep -v bearer.lua | grep -q '[.]lua'; then
		usage_error "scenario '$s' sends POST requests from a wrk script, and this script's load client sends only GET requests: count GET scenarios such as plain, gateway or signed_url"
	fi
done
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_control >/dev/null 2>&1; then
	echo "bench: valgrind is not installed; install it with:" >&2
	echo "  apt-get install -y valgrind" >&2
	exit 2
fi
command -v go >/dev/null 2>&1 || die "go is not on PATH: install Go 1.26 or add it to PATH"
command -v curl >/dev/null 2>&1 || die "curl is not on PATH: install it with 'apt-get install -y curl'"

[[ -z $out_file || $out_file == /* ]] || out_file=$PWD/$out_file
if [[ -n $keep_dir ]]; then
	mkdir -p "$keep_dir" || usage_error "--keep '$keep_dir': failed to create the directory; give a writable path"
	keep_dir=$(cd "$keep_dir" && pwd)
fi
repo=$(cd "$bench_dir/.." && pwd)
cd "$repo"

start_work_dir

# Nothing is pinned: an instruction count does not depend on the CPU.
load_pin=()
upstream_procs=1
body_size=200
redis_addr=""

build_binaries fixedload
make_credentials
start_upstream

# Every proxy starts under callgrind with one P, as a proxy pinned to one
# CPU has, and with Go's asynchronous preemption off, because its signals
# made callgrind 3.19 abort here. A proxy under valgrind takes several
# seconds to start, so start_proxy waits up to 60 s.
proxy_start_tries=600
mkdir -p "$work/callgrind"

# count_once SCENARIO ROUND starts SCENARIO's proxy under callgrind, sends
# warm_requests uncounted requests, zeroes the counters, sends requests
# counted ones and sets per_request to the instructions per request.
count_once() {
	local scenario=$1 round=$2 out total dump
	out=$work/callgrind/$scenario.$round
	proxy_pin=(env GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1
		valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$out.%p")
	start_proxy "$scenario" off

	"$work/bin/fixedload" -url "$proxy_url" -n "$warm_requests" -c "$conns" "${probe_args[@]}" ||
		die "$scenario: the uncounted requests failed"
	callgrind_control --zero "$proxy_pid" >"$work/callgrind/control.log" 2>&1 ||
		die "$scenario: callgrind_control --zero failed: $(tail -n 2 "$work/callgrind/control.log")"
	"$work/bin/fixedload" -url "$proxy_url" -n "$requests" -c "$conns" "${probe_args[@]}" ||
		die "$scenario: the counted requests failed"
	callgrind_control --dump "$proxy_pid" >"$work/callgrind/control.log" 2>&1 ||
		die "$scenario: callgrind_control --dump failed: $(tail -n 2 "$work/callgrind/control.log")"

	# The dump is the newest file; its "totals:" line is the instruction count.
	dump=$(ls -t "$out".* | head -n 1)
	total=$(awk '/^totals:/ { print $2 }' "$dump")
	[[ $total =~ ^[0-9]+$ ]] || die "$scenario: no instruction total in the callgrind dump"
	[[ -z $keep_dir ]] || cp "$dump" "$keep_dir/$scenario.$round"
	# SIGKILL, because valgrind 3.19 aborted on a graceful stop's signal
	# here, and the count is written already.
	kill -KILL "$proxy_pid" 2>/dev/null || true
	wait "$proxy_pid" 2>/dev/null || true
	forget_pid "$proxy_pid"
	per_request=$((total / requests))
}

declare -A counts=()
for ((round = 1; round <= rounds; round++)); do
	for s in "${scenarios[@]}"; do
		echo "bench: round $round: counting $s" >&2
		count_once "$s" "$round"
		counts[$s]+="$per_request "
	done
done

median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

report() {
	local s base value runs
	read -r -a runs <<<"${counts[${scenarios[0]}]}"
	base=$(median "${runs[@]}")
	echo "| scenario | instructions per request | vs ${scenarios[0]} | each run |"
	echo "| --- | ---: | ---: | --- |"
	for s in "${scenarios[@]}"; do
		read -r -a runs <<<"${counts[$s]}"
		value=$(median "${runs[@]}")
		printf '| %s | %d | %.3f | %s |\n' "$s" "$value" "$(awk -v a="$value" -v b="$base" 'BEGIN { print a / b }')" "${runs[*]}"
	done
}

table=$(report)
echo
echo "$table"
if [[ -n $out_file ]]; then
	{
		echo "# awragate instruction counts"
		echo
		echo "Command: \`$command_line\`"
		echo
		echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(valgrind --version), $(go version | cut -d ' ' -f 3), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))."
		echo "$requests counted GET requests per run over $conns connections, after $warm_requests uncounted ones;"
		echo "user-space instructions of the proxy process (valgrind --tool=callgrind), divided by the requests."
		echo
		for s in "${scenarios[@]}"; do
			echo "- $s: $("scenario_${s}_title")"
		done
		echo
		echo "$table"
	} >"$out_file"
	echo "bench: wrote $out_file" >&2
fi
