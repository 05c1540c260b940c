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
#   scenario_<name>_needs_fresh_proxy  (optional) prints why the scenario
#                                cannot run with --keep-proxies
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

# gateway_id is the gateway with request_id_header X-Awra-Request-Id: the
# upstream also gets the request id, which the gateway sends only on
# request. Not in the default list.
scenario_gateway_id_title() { echo "gateway with request_id_header X-Awra-Request-Id"; }
scenario_gateway_id_global() {
	printf '\tawra {\n\t\tkeys_file %s\n\t\trequest_id_header X-Awra-Request-Id\n\t}\n' "$work/keys.json"
}
scenario_gateway_id_handlers() { scenario_gateway_handlers; }
scenario_gateway_id_wrk() { scenario_gateway_wrk; }
scenario_gateway_id_anonymous() { echo 401; }

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

# ratelimit_redis gives the bench key a rate limit far above the load and
# counts it in Redis (rate_limit_store redis): every request then makes one
# Redis round trip, which is what the scenario measures. Not in the
# default list.
scenario_ratelimit_redis_title() { echo "gateway with the key's rate limit shared through Redis (never reached)"; }
scenario_ratelimit_redis_setup() {
	start_redis
	sed 's/"status": "active"/"rate_limit": {"rate": "1000000\/s", "burst": 1000000}, "status": "active"/' \
		"$work/keys.json" >"$work/keys-limited.json"
	grep -q '"rate_limit"' "$work/keys-limited.json" || die "could not add a rate limit to $work/keys.json"
}
scenario_ratelimit_redis_global() {
	printf '\tawra {\n\t\tredis redis://%s/0\n\t\tkeys_file %s\n\t\trate_limit_store redis\n\t}\n' \
		"$redis_addr" "$work/keys-limited.json"
}
scenario_ratelimit_redis_handlers() { scenario_gateway_handlers; }
scenario_ratelimit_redis_wrk() { scenario_gateway_wrk; }
scenario_ratelimit_redis_anonymous() { echo 401; }

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

# ---------------------------------------------------------------- signed URLs

# signed_url checks a signed link (awra_signed_url) on the same path as
# plain. The link is minted by `awragate sign-url` for each start, because
# the signed host includes the proxy's port. The secret is random per run,
# kept in an unexported variable and given only to the proxy and the signer.
bench_url_key=""
scenario_signed_url_title() { echo "gateway (awra_signed_url, key k2026, max_ttl 24h), one pre-signed link"; }
scenario_signed_url_global() { :; }
scenario_signed_url_handlers() {
	printf '\tawra_signed_url {\n\t\tkey k2026 {env.BENCH_URL_KEY}\n\t\tmax_ttl 24h\n\t}\n'
}
scenario_signed_url_setup() {
	[[ -n $bench_url_key ]] || bench_url_key=$(head -c 32 /dev/urandom | base64 | tr -d '=+/' | head -c 40)
}
scenario_signed_url_wrk() {
	local link
	link=$(BENCH_URL_KEY=$bench_url_key "$awragate" sign-url --key-id k2026 --secret-env BENCH_URL_KEY \
		--expires-in 23h "http://127.0.0.1:$proxy_port/api/inventory/items" 2>"$work/sign-url.log") ||
		die "awragate sign-url failed: $(tail -n 2 "$work/sign-url.log")"
	wrk_args=()
	request_path=/${link#http://*/}
	proxy_env=(BENCH_URL_KEY="$bench_url_key")
}
scenario_signed_url_probe() {
	probe_args=()
	anonymous_path=${request_path%%\?*}
}
scenario_signed_url_anonymous() { echo 403; }

# signed_url_key_id is signed_url with key_id_header X-Awra-Url-Key-Id: the
# upstream also gets the signing key's id, which the gateway sends only on
# request. Not in the default list.
scenario_signed_url_key_id_title() { echo "signed_url with key_id_header X-Awra-Url-Key-Id"; }
scenario_signed_url_key_id_global() { :; }
scenario_signed_url_key_id_handlers() {
	printf '\tawra_signed_url {\n\t\tkey k2026 {env.BENCH_URL_KEY}\n\t\tmax_ttl 24h\n\t\tkey_id_header X-Awra-Url-Key-Id\n\t}\n'
}
scenario_signed_url_key_id_setup() { scenario_signed_url_setup; }
scenario_signed_url_key_id_wrk() { scenario_signed_url_wrk; }
scenario_signed_url_key_id_probe() { scenario_signed_url_probe; }
scenario_signed_url_key_id_anonymous() { echo 403; }

# plain_link is plain Caddy requested the way signed_url is: a signed link
# in the query and no Authorization header, with wrk run without a script.
# It is the signed URL route's baseline of equal client bytes and equal
# wrk work (--scenarios "plain_link signed_url"). Plain Caddy does not
# check the link and forwards the query as it is.
scenario_plain_link_title() { echo "plain Caddy (reverse_proxy only), requested with a signed link like signed_url"; }
scenario_plain_link_global() { :; }
scenario_plain_link_handlers() { :; }
scenario_plain_link_setup() { scenario_signed_url_setup; }
scenario_plain_link_wrk() {
	scenario_signed_url_wrk
	proxy_env=() # plain Caddy needs no URL key
}
scenario_plain_link_probe() { scenario_signed_url_probe; }
scenario_plain_link_anonymous() { echo 200; }

# ---------------------------------------------------------------- webhooks

# webhook checks GitHub-style signed POSTs (awra_webhook, no Redis: the
# replay and duplicate store is in the process). max_deliveries is 1000, the
# most the module accepts (it refuses 1000000000); each body is delivered once. A body already delivered
# is a duplicate, answered 200 without forwarding, so wrk cycles through
# distinct bodies that bench/cmd/hookbodies signs beforehand (hook_count,
# split over wrk's threads). A fresh proxy per run starts with an empty
# store; the warmup and the measured run share it, so bodies repeat once
# the two together send more than hook_count requests. plain_post sends
# the same POSTs through plain reverse_proxy, as the webhook's baseline.
hook_count=200000
bench_hook_secret=""
hook_dir=""
scenario_webhook_needs_fresh_proxy() { echo "its delivery store remembers every body delivered, so a kept proxy would answer later runs as duplicates"; }
scenario_webhook_title() { echo "gateway (awra_webhook provider github, max_deliveries 1000, replay_window 1m, no Redis), distinct signed 2 KB POSTs"; }
scenario_webhook_global() { :; }
scenario_webhook_handlers() {
	printf '\tawra_webhook {\n\t\tprovider github\n\t\tsecret {env.BENCH_HOOK_SECRET}\n\t\tmax_deliveries 1000\n\t\treplay_window 1m\n\t}\n'
}
scenario_webhook_setup() {
	[[ -z $hook_dir ]] || return 0
	bench_hook_secret=$(head -c 32 /dev/urandom | base64 | tr -d '=+/' | head -c 40)
	hook_dir=$work/hooks
	mkdir -p "$hook_dir"
	go build -o "$work/bin/" ./bench/cmd/hookbodies
	BENCH_HOOK_SECRET=$bench_hook_secret "$work/bin/hookbodies" -n "$hook_count" -secret-env BENCH_HOOK_SECRET -dir "$hook_dir"
	# The bodies' signatures must be the ones awragate itself makes.
	BENCH_HOOK_SECRET=$bench_hook_secret "$awragate" webhook sign --provider github --secret-env BENCH_HOOK_SECRET \
		<"$hook_dir/probe-body.json" | grep -i '^X-Hub-Signature-256:' >"$hook_dir/check.txt" ||
		die "awragate webhook sign gave no X-Hub-Signature-256 line"
	cmp -s "$hook_dir/check.txt" "$hook_dir/probe-header.txt" ||
		die "bench/cmd/hookbodies and 'awragate webhook sign' disagree on the signature of the same body"
	export AWRA_BENCH_HOOK_DIR=$hook_dir AWRA_BENCH_THREADS=$threads
}
scenario_webhook_wrk() {
	wrk_args=(-s "$repo/bench/wrk/webhook.lua")
	request_path=/hooks/github
	proxy_env=(BENCH_HOOK_SECRET="$bench_hook_secret")
}
scenario_webhook_probe() {
	probe_args=(-X POST -H 'Content-Type: application/json' -H 'X-GitHub-Event: push'
		-H @"$hook_dir/probe-header.txt" --data-binary @"$hook_dir/probe-body.json")
}
scenario_webhook_anonymous() { echo 401; }

scenario_plain_post_title() { echo "plain Caddy (reverse_proxy only), the webhook scenario's POSTs"; }
scenario_plain_post_global() { :; }
scenario_plain_post_handlers() { :; }
scenario_plain_post_setup() { scenario_webhook_setup; }
scenario_plain_post_wrk() {
	wrk_args=(-s "$repo/bench/wrk/webhook.lua")
	request_path=/hooks/github
}
scenario_plain_post_probe() { scenario_webhook_probe; }
scenario_plain_post_anonymous() { echo 200; }

# ---------------------------------------------------------------- nginx

# nginx_secure_link is Debian's nginx as a reference peer: secure_link with
# its MD5 scheme (md5 of "<expires><uri> <secret>", base64url) in front of
# proxy_pass to the same upstream, with keepalive. It runs as one process
# (master_process off), pinned like the proxy, so that its PID is the one
# that serves and its CPU time is measured like the proxy's. The secret is
# in its config file, inside the run's private work directory.
nginx_secret=""
scenario_nginx_secure_link_title() { echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') secure_link (MD5), proxy_pass with keepalive 1024, one process"; }
scenario_nginx_secure_link_global() { :; }
scenario_nginx_secure_link_handlers() { :; }
scenario_nginx_secure_link_setup() {
	command -v nginx >/dev/null 2>&1 || die "nginx is not on PATH: install it with 'apt-get install -y nginx-light'"
	nginx -V 2>&1 | grep -q secure_link || die "this nginx lacks ngx_http_secure_link_module"
	[[ -n $nginx_secret ]] || nginx_secret=$(head -c 32 /dev/urandom | base64 | tr -d '=+/' | head -c 40)
	rm -rf "$work/nginx"
	mkdir -p "$work/nginx"
}
scenario_nginx_secure_link_wrk() {
	local expires md5
	expires=$(($(date +%s) + 23 * 3600))
	md5=$(printf '%s/api/inventory/items %s' "$expires" "$nginx_secret" | openssl md5 -binary | openssl base64 | tr '+/' '-_' | tr -d '=')
	wrk_args=()
	request_path="/api/inventory/items?md5=$md5&expires=$expires"
}
scenario_nginx_secure_link_probe() {
	probe_args=()
	anonymous_path=${request_path%%\?*}
}
scenario_nginx_secure_link_anonymous() { echo 403; }
scenario_nginx_secure_link_start() {
	local port=$1 log=$2 dir=$work/nginx
	(
		umask 077
		cat >"$dir/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log error;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	upstream bench_upstream {
		server $upstream_addr;
		keepalive 1024;
	}
	server {
		listen 127.0.0.1:$port;
		location / {
			secure_link \$arg_md5,\$arg_expires;
			secure_link_md5 "\$secure_link_expires\$uri $nginx_secret";
			if (\$secure_link = "") { return 403; }
			if (\$secure_link = "0") { return 410; }
			proxy_pass http://bench_upstream;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
NGINX
	)
	"${proxy_pin[@]}" nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" >"$log" 2>&1 &
	proxy_pid=$!
	pids+=("$proxy_pid")
}

# plain_twin is a second proxy with plain's configuration. Measured against
# plain (an A/A comparison), its ratios show the method's own spread: with
# --paired they stay within a few percent of 1.000.
scenario_plain_twin_title() { echo "plain Caddy again, a second proxy with the baseline's configuration (A/A check)"; }
scenario_plain_twin_global() { :; }
scenario_plain_twin_handlers() { :; }
scenario_plain_twin_wrk() { scenario_plain_wrk; }
scenario_plain_twin_anonymous() { echo 200; }
