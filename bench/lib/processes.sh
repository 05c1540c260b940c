# shellcheck shell=bash
# Processes that bench/run.sh starts: liveness, stopping by PID, cleanup,
# and free loopback ports. Sourced by run.sh; uses its globals (pids, work).

# is_running reports whether pid is alive and not yet a zombie.
is_running() {
	local stat state
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	state=${stat##*) }
	state=${state%% *}
	[[ $state != Z ]]
}

# stop_pid sends SIGTERM, waits up to 10 s (a gateway with audit drains
# its queue to the spool on the way out), then sends SIGKILL, and reaps the
# process. Only PIDs this script started are passed here.
stop_pid() {
	local pid=$1 i
	if kill -TERM "$pid" 2>/dev/null; then
		for ((i = 0; i < 100; i++)); do
			is_running "$pid" || break
			sleep 0.1
		done
		if is_running "$pid"; then
			echo "bench: process $pid did not stop within 10s; sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
	forget_pid "$pid"
}

# forget_pid removes a reaped pid from the list that cleanup stops.
forget_pid() {
	local pid=$1 p remaining=()
	for p in "${pids[@]}"; do
		[[ $p == "$pid" ]] || remaining+=("$p")
	done
	pids=("${remaining[@]}")
}

# start_work_dir makes the run's temporary directory, in work, and sets the
# traps that stop every process in pids and remove the directory on exit.
start_work_dir() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/awragate-bench.XXXXXX")
	pids=()
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

cleanup() {
	local status=$?
	trap - EXIT INT TERM
	local pid
	for pid in "${pids[@]}"; do
		stop_pid "$pid"
	done
	rm -rf "$work"
	exit "$status"
}

# free_port prints a loopback TCP port that nothing listens on now. It
# picks ports below the kernel's ephemeral range when there is room, because
# a port in that range can be the local end of an outgoing connection (wrk's,
# or the proxy's to the upstream), which makes a later bind fail although
# nothing listens on it. start_proxy retries on a failed bind all the same.
free_port() {
	local port i low=20000 span=40000 ephemeral_low
	read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || ephemeral_low=0
	if ((ephemeral_low > 12000)); then
		low=10000
		span=$((ephemeral_low - low))
	fi
	for ((i = 0; i < 100; i++)); do
		port=$((low + RANDOM % span))
		if ! (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	die "no free loopback port found in 100 tries"
}
