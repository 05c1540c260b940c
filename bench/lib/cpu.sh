# shellcheck shell=bash
# CPU accounting for bench/run.sh: CPU lists, per-process and per-CPU
# clock ticks from /proc, and waiting for an idle machine. Sourced by run.sh.

# expand_cpus prints the CPUs of a taskset list such as "0", "0-1" or "0,2"
# one a line.
expand_cpus() {
	local part parts
	IFS=, read -r -a parts <<<"$1"
	for part in "${parts[@]}"; do
		if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then
			seq "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
		elif [[ $part =~ ^[0-9]+$ ]]; then
			echo "$part"
		else
			return 1
		fi
	done
}

# cpu_ticks prints the user plus system CPU time of pid in clock ticks.
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) }
	# After the command name: field 1 is the state, 12 utime, 13 stime.
	awk '{ print $12 + $13 }' <<<"$stat"
}

# user_ticks prints the user CPU time of pid in clock ticks. Its share of
# cpu_ticks separates the proxy's own code (user) from the kernel's work on
# its sockets (system).
user_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) }
	awk '{ print $12 }' <<<"$stat"
}

# child_cpu_ticks prints the CPU time of this script's reaped children in
# clock ticks. wrk counts among them, through timeout, which waits for it.
# `times` has to run in this shell rather than in a command substitution's
# subshell to see them, so it writes to a file.
child_cpu_ticks() {
	times >"$work/times"
	awk -v hz="$clock_ticks" '
	function seconds(v,    minutes) {
		minutes = v
		sub(/m.*/, "", minutes)
		sub(/^[0-9]+m/, "", v)
		sub(/s$/, "", v)
		return minutes * 60 + v
	}
	NR == 2 { printf "%.0f\n", (seconds($1) + seconds($2)) * hz }' "$work/times"
}

# busy_ticks prints the busy time (all but idle and iowait) of the CPUs in
# the taskset list, summed over them, in clock ticks.
busy_ticks() {
	local cpus
	cpus=$(expand_cpus "$1" | tr '\n' ' ')
	awk -v list="$cpus" '
	BEGIN { n = split(list, c, " "); for (i = 1; i <= n; i++) want["cpu" c[i]] = 1 }
	$1 in want { busy += $2 + $3 + $4 + $7 + $8 + $9 }
	END { print busy + 0 }' /proc/stat
}

# machine_busy_percent samples /proc/stat one second apart and prints the
# share of all CPUs' time that was busy, in percent.
machine_busy_percent() {
	local first second
	first=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	sleep 1
	second=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	awk -v a="$first" -v b="$second" 'BEGIN {
		split(a, x, " ")
		split(b, y, " ")
		total = y[2] - x[2]
		printf "%.0f\n", (total > 0) ? (y[1] - x[1]) / total * 100 : 0
	}'
}

# await_idle waits up to wait_idle seconds for the machine to be under 10%
# busy, and reports when it gives up.
await_idle() {
	local waited=0 busy
	((wait_idle > 0)) || return 0
	while true; do
		busy=$(machine_busy_percent)
		((busy < 10)) && return 0
		waited=$((waited + 1))
		if ((waited >= wait_idle)); then
			echo "bench: the machine is still ${busy}% busy after ${wait_idle}s; measuring anyway" >&2
			return 0
		fi
	done
}

# share_percent TICKS CPUS prints TICKS as a percentage of CPUS CPUs over
# one measured run, rounded, and 0 for a negative count.
share_percent() {
	awk -v t="$1" -v n="$2" -v hz="$clock_ticks" -v d="$duration_s" \
		'BEGIN { v = t / hz / d / n * 100; printf "%.0f", (v < 0) ? 0 : v }'
}
