package awra

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestAppFleetCaddyfile(t *testing.T) {
	input := `awra {
		redis redis://127.0.0.1:6379/0
		instance gw-a
		instances 3
		rate_limit_store redis
		rate_limit_timeout 20ms
		keys_store redis
		keys_cache_ttl 3s
		alerts {
			webhook http://127.0.0.1:9099/alerts {
				secret {env.AWRA_ALERT_SECRET}
				timeout 4s
			}
			redis_channel awra:alerts
			cooldown 10m
			group_wait 2s
			max_attempts 8
			backoff 500ms 30s
			dead_letter_stream awra:alerts:dead
			queue_size 64
			quarantine_after 5 10m
		}
	}`
	want := App{
		Redis:            "redis://127.0.0.1:6379/0",
		Instance:         "gw-a",
		Instances:        3,
		RateLimitStore:   "redis",
		RateLimitTimeout: caddy.Duration(20 * time.Millisecond),
		KeysStore:        "redis",
		KeysCacheTTL:     caddy.Duration(3 * time.Second),
		Alerts: &AlertsConfig{
			Webhook:          &AlertWebhook{URL: "http://127.0.0.1:9099/alerts", Secret: "{env.AWRA_ALERT_SECRET}", Timeout: caddy.Duration(4 * time.Second)},
			RedisChannel:     "awra:alerts",
			Cooldown:         caddy.Duration(10 * time.Minute),
			GroupWait:        caddy.Duration(2 * time.Second),
			MaxAttempts:      8,
			MinBackoff:       caddy.Duration(500 * time.Millisecond),
			MaxBackoff:       caddy.Duration(30 * time.Second),
			DeadLetterStream: "awra:alerts:dead",
			QueueSize:        64,
			QuarantineAfter:  &QuarantineRule{Denials: 5, Window: caddy.Duration(10 * time.Minute)},
		},
	}
	var got App
	if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
		t.Fatalf("UnmarshalCaddyfile: %v", err)
	}
	if !reflect.DeepEqual(got.Alerts, want.Alerts) {
		t.Errorf("UnmarshalCaddyfile alerts\n got %+v\nwant %+v", got.Alerts, want.Alerts)
	}
	got.Alerts, want.Alerts = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UnmarshalCaddyfile\n got %+v\nwant %+v", got, want)
	}
}

func TestAppFleetCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"unknown option", `bogus 1`, "unknown awra option 'bogus'"},
		{"instances zero", `instances 0`, "instances: invalid value '0'"},
		{"instances not a number", `instances many`, "instances: invalid value 'many'"},
		{"instance twice", "instance a\ninstance b", "'instance' is set twice"},
		{"bad rate limit store", `rate_limit_store memcached`, "invalid value 'memcached': use local or redis"},
		{"bad keys store", `keys_store sql`, "invalid value 'sql': use file or redis"},
		{"negative timeout", `rate_limit_timeout -1s`, "invalid duration '-1s'"},
		{"ttl without value", `keys_cache_ttl`, "'keys_cache_ttl' needs a value"},
		{"alerts argument", `alerts now { }`, "wrong argument count"},
		{"alerts unknown option", "alerts {\nemail sec@example.com\n}", "alerts: unknown option 'email'"},
		{"alerts repeated option", "alerts {\ncooldown 1m\ncooldown 2m\n}", "'cooldown' is set twice"},
		{"webhook without url", "alerts {\nwebhook\n}", "'webhook' needs a URL"},
		{"webhook without secret", "alerts {\nwebhook http://127.0.0.1/x\n}", "webhook needs a secret"},
		{"webhook two urls", "alerts {\nwebhook http://a/x http://b/y\n}", "takes one URL"},
		{"webhook unknown option", "alerts {\nwebhook http://a/x {\nsecret s\nretries 3\n}\n}", "webhook: unknown option 'retries'"},
		{"max attempts zero", "alerts {\nmax_attempts 0\n}", "max_attempts: invalid value '0'"},
		{"max attempts too many", "alerts {\nmax_attempts 101\n}", "use a whole number from 1 to 100"},
		{"backoff one value", "alerts {\nbackoff 1s\n}", "'backoff' takes a minimum and a maximum"},
		{"backoff bad duration", "alerts {\nbackoff 1s soon\n}", "invalid duration 'soon'"},
		{"quarantine one value", "alerts {\nquarantine_after 5\n}", "takes a number of denials and a window"},
		{"quarantine zero", "alerts {\nquarantine_after 0 10m\n}", "invalid count '0'"},
		{"quarantine too many", "alerts {\nquarantine_after 10001 10m\n}", "invalid count '10001'"},
		{"quarantine bad window", "alerts {\nquarantine_after 5 forever\n}", "invalid duration 'forever'"},
		{"request id header invalid", `request_id_header "X Request"`, "request_id_header: invalid header name 'X Request'"},
		{"request id header reserved", `request_id_header Authorization`, "'Authorization' is reserved"},
		{"request id header twice", "request_id_header X-Request-Id\nrequest_id_header off", "'request_id_header' is set twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a App
			err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("awra {\n" + tt.body + "\n}"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("UnmarshalCaddyfile(%q) error = %v, want one containing %q", tt.body, err, tt.wantErr)
			}
		})
	}
}
