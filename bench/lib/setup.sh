# shellcheck shell=bash
# Setup shared by the benchmark scripts: the binaries, a key and secrets
# made for this run only, and the upstream. Sourced by run.sh and
# instructions.sh; uses their globals (work, pids, load_pin, upstream_procs,
# body_size) and sets awragate, AWRA_BENCH_TOKEN_FILE, AWRA_BENCH_CHAIN_KEY,
# upstream_addr and upstream_pid.

# build_binaries builds awragate and the upstream into $work/bin, and the
# commands under bench/cmd named as arguments.
build_binaries() {
	local cmd
	echo "bench: building awragate and upstream into $work/bin" >&2
	mkdir -p "$work/bin" "$work/raw" "$work/xdg"
	go build -o "$work/bin/awragate" ./gateway
	go build -o "$work/bin/" ./bench/cmd/upstream
	for cmd in "$@"; do
		go build -o "$work/bin/" "./bench/cmd/$cmd"
	done
	awragate=$work/bin/awragate

	# Keep Caddy's storage and autosave inside the work directory.
	export XDG_DATA_HOME=$work/xdg XDG_CONFIG_HOME=$work/xdg
}

# make_credentials creates the run's test key and audit chain key. `awragate
# keys create` writes the token to a 0600 file that the wrk script and curl
# read, and it is never printed.
make_credentials() {
	(
		umask 077
		"$awragate" keys create --file "$work/keys.json" --id bench --scope inventory:read \
			--cidr 127.0.0.1/32 --cidr ::1/128 --expires-in 24h >"$work/token" 2>"$work/keys-create.log"
	) || die "awragate keys create failed: $(cat "$work/keys-create.log")"
	[[ $(head -n 1 "$work/token") == awra_bench_* ]] || die "awragate keys create did not write a token for key 'bench' to $work/token"
	export AWRA_BENCH_TOKEN_FILE=$work/token

	AWRA_BENCH_CHAIN_KEY=$(head -c 32 /dev/urandom | base64)
	export AWRA_BENCH_CHAIN_KEY
	(
		umask 077
		printf 'Authorization: Bearer %s\n' "$(head -n 1 "$work/token")" >"$work/auth.header"
	)
}

# start_upstream starts the stand-in for the AWRA workspace on the load
# CPUs and sets upstream_addr and upstream_pid.
start_upstream() {
	local i
	GOMAXPROCS=$upstream_procs "${load_pin[@]}" "$work/bin/upstream" \
		-addr 127.0.0.1:0 -size "$body_size" -addr-file "$work/upstream.addr" \
		>"$work/upstream.log" 2>&1 &
	pids+=("$!")
	upstream_pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ -s $work/upstream.addr ]] && break
		is_running "$upstream_pid" || die "upstream exited at start: $(tail -n 5 "$work/upstream.log")"
		sleep 0.05
	done
	[[ -s $work/upstream.addr ]] || die "upstream did not report its address within 5s"
	upstream_addr=$(head -n 1 "$work/upstream.addr")
}
