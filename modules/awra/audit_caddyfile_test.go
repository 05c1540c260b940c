package awra

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestAuditCaddyfile(t *testing.T) {
	input := `awra {
		audit {
			stream awra:audit:test
			max_len 5000
			spool_dir /var/lib/awragate/spool
			chain_key {env.AWRA_AUDIT_CHAIN_KEY}
			instance gw-a
			retention 20m
			commit_interval 25ms
			queue_capacity 1024
			queue_bytes 1048576
		}
	}`
	want := &AuditConfig{
		Stream:         "awra:audit:test",
		MaxLen:         5000,
		SpoolDir:       "/var/lib/awragate/spool",
		ChainKey:       "{env.AWRA_AUDIT_CHAIN_KEY}",
		Instance:       "gw-a",
		Retention:      caddy.Duration(20 * time.Minute),
		CommitInterval: caddy.Duration(25 * time.Millisecond),
		QueueCapacity:  1024,
		QueueBytes:     1048576,
	}
	var got App
	if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
		t.Fatalf("UnmarshalCaddyfile: %v", err)
	}
	if !reflect.DeepEqual(got.Audit, want) {
		t.Errorf("UnmarshalCaddyfile audit\n got %+v\nwant %+v", got.Audit, want)
	}
}

func TestAuditCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"unknown option", `fsync always`, "audit: unknown option 'fsync'"},
		{"option twice", "retention 1m\nretention 2m", "'retention' is set twice"},
		{"commit interval below 1ms", `commit_interval 500us`, "commit_interval: invalid duration '500us': use a duration from 1ms to 1s"},
		{"commit interval above 1s", `commit_interval 2s`, "commit_interval: invalid duration '2s'"},
		{"commit interval negative", `commit_interval -10ms`, "commit_interval: invalid duration '-10ms'"},
		{"commit interval not a duration", `commit_interval often`, "commit_interval: invalid duration 'often'"},
		{"retention zero", `retention 0s`, "retention: invalid duration '0s'"},
		{"queue capacity zero", `queue_capacity 0`, "queue_capacity: invalid value '0'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a App
			err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("awra {\naudit {\n" + tt.body + "\n}\n}"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("UnmarshalCaddyfile(%q) error = %v, want one containing %q", tt.body, err, tt.wantErr)
			}
		})
	}
}
