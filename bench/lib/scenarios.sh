# shellcheck shell=bash
# Scenarios of bench/run.sh. Sourced by run.sh; uses its globals.
#
# To add one, define its functions here and pass its name to --scenarios,
# or add it to the default list in run.sh.
#
# A scenario <name> defines:
#   scenario_<name>_title        one line for the table
#   scenario_<name>_global       Caddyfile global options it adds (may print nothing)
#   scenario_<name>_handlers     site directives placed before reverse_proxy
#   scenario_<name>_wrk          sets the array wrk_args (script, headers) and
#                                the variable request_path
#   scenario_<name>_anonymous    HTTP status expected for a request without
#                                the credential, to prove enforcement is on
#   scenario_<name>_setup        (optional) runs before each start of the
#                                proxy, for example to make a fresh directory
#
# Every scenario shares the site, the reverse_proxy transport and the
# upstream, so the only difference is what the scenario adds.

scenario_plain_title() { echo "plain Caddy (reverse_proxy only)"; }
scenario_plain_global() { :; }
scenario_plain_handlers() { :; }
scenario_plain_wrk() {
	# The same credential header as the gateway, so clients send equal bytes.
	wrk_args=(-s "$repo/bench/wrk/bearer.lua")
	request_path=/api/inventory/items
}
scenario_plain_anonymous() { echo 200; }

scenario_gateway_title() { echo "gateway (awra_api_key, scopes inventory:read)"; }
scenario_gateway_global() {
	printf '\tawra {\n\t\tkeys_file %s\n\t}\n' "$work/keys.json"
}
scenario_gateway_handlers() {
	printf '\tawra_api_key {\n\t\tscopes inventory:read\n\t}\n'
}
scenario_gateway_wrk() {
	wrk_args=(-s "$repo/bench/wrk/bearer.lua")
	request_path=/api/inventory/items
}
scenario_gateway_anonymous() { echo 401; }

# The audit scenarios add the audit pipeline to the gateway: every decision
# becomes a chained event in a spool on local disk, and with Redis also an
# entry in a stream. They are not in the default list.
scenario_audit_title() { echo "gateway with audit to the local spool (no Redis)"; }
scenario_audit_setup() {
	rm -rf "$work/spool"
	mkdir -p "$work/spool"
}
scenario_audit_global() {
	printf '\tawra {\n\t\tkeys_file %s\n' "$work/keys.json"
	printf '\t\taudit {\n\t\t\tspool_dir %s\n\t\t\tchain_key {env.AWRA_BENCH_CHAIN_KEY}\n\t\t}\n\t}\n' "$work/spool"
}
scenario_audit_handlers() { scenario_gateway_handlers; }
scenario_audit_wrk() { scenario_gateway_wrk; }
scenario_audit_anonymous() { echo 401; }

scenario_audit_redis_title() { echo "gateway with audit to the spool and a Redis stream (redis-server on the load CPUs)"; }
scenario_audit_redis_setup() {
	scenario_audit_setup
	start_redis
}
scenario_audit_redis_global() {
	printf '\tawra {\n\t\tredis redis://%s/0\n\t\tkeys_file %s\n' "$redis_addr" "$work/keys.json"
	printf '\t\taudit {\n\t\t\tspool_dir %s\n\t\t\tchain_key {env.AWRA_BENCH_CHAIN_KEY}\n\t\t}\n\t}\n' "$work/spool"
}
scenario_audit_redis_handlers() { scenario_gateway_handlers; }
scenario_audit_redis_wrk() { scenario_gateway_wrk; }
scenario_audit_redis_anonymous() { echo 401; }

# start_redis starts this run's own redis-server once, without persistence,
# on a free loopback port, and sets redis_addr.
start_redis() {
	[[ -z $redis_addr ]] || return 0
	command -v redis-server >/dev/null 2>&1 || die "redis-server is not on PATH: install it with 'apt-get install -y redis-server'"
	local port i
	port=$(free_port)
	"${load_pin[@]}" redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
		--dir "$work" --logfile "$work/redis.log" &
	pids+=("$!")
	for ((i = 0; i < 50; i++)); do
		if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			redis_addr=127.0.0.1:$port
			return 0
		fi
		sleep 0.1
	done
	die "redis-server did not listen on port $port within 5s: $(tail -n 5 "$work/redis.log")"
}
