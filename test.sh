#!/usr/bin/env bash
# Runs awragate's whole test suite: vet, unit and integration tests against
# real redis-server processes that the tests start themselves, and a short
# run of every fuzz target. Usage: ./test.sh [--no-fuzz]
set -euo pipefail
cd "$(dirname "$0")"

fuzz=1
for arg in "$@"; do
	case "$arg" in
	--no-fuzz) fuzz=0 ;;
	*) echo "test.sh: unknown argument '$arg'; the only option is --no-fuzz" >&2; exit 2 ;;
	esac
done

if ! command -v go >/dev/null 2>&1; then
	echo "test.sh: Go is not installed; install Go 1.26 from https://go.dev/dl/ and retry" >&2
	exit 1
fi

# The tests start their own redis-server on free loopback ports.
if ! command -v redis-server >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "test.sh: redis-server is missing; installing Debian's redis-server package" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
		# The package may start a service on 6379; the tests do not use it.
	else
		echo "test.sh: redis-server is missing; install it with: sudo apt-get install -y redis-server" >&2
		exit 1
	fi
fi

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 -timeout 12m ./...

if [ "$fuzz" = 1 ]; then
	echo "== fuzz (short runs; the committed corpora replay in go test above)"
	# Each target runs alone because go test -fuzz takes one target at a
	# time. Only directories whose tests define a Fuzz function are listed.
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
		for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
			echo "-- $dir $target"
			# Go 1.26's fuzzing coordinator sometimes ends a clean run with
			# "context deadline exceeded" when -fuzztime expires during a
			# worker's call (go.dev/issue/75804, fixed in Go 1.27). No input
			# is saved then, and such a run is tried up to twice more.
			ok=0
			for attempt in 1 2 3; do
				if go test -run='^$' -fuzz="^${target}\$" -fuzztime=5s "$dir" >"$log" 2>&1; then
					ok=1
					break
				fi
				if grep -q 'Failing input written to' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
					break
				fi
				echo "   (run ended with 'context deadline exceeded' and no failing input; trying again)"
			done
			if [ "$ok" != 1 ]; then
				cat "$log"
				echo "test.sh: fuzz target $target in $dir failed; a failing input, if one was found, is saved under $dir/testdata/fuzz/$target" >&2
				exit 1
			fi
		done
	done
fi
echo "== all tests passed"
