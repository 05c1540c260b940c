package awra

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestResolveRequestIDHeader(t *testing.T) {
	for _, tt := range []struct{ option, want string }{
		{"", ""},
		{"off", ""},
		{"OFF", ""},
		{"Off", ""},
		{"x-request-id", "X-Request-Id"},
		{"X-Awra-Request-Id", "X-Awra-Request-Id"},
		{"Request-Id", "Request-Id"},
	} {
		got, err := resolveRequestIDHeader(tt.option)
		if err != nil || got != tt.want {
			t.Errorf("resolveRequestIDHeader(%q) = %q, %v; want %q", tt.option, got, err, tt.want)
		}
	}
}

func TestResolveRequestIDHeaderRejects(t *testing.T) {
	for _, tt := range []struct{ option, wantErr string }{
		{"X Request Id", "invalid header name 'X Request Id'"},
		{"X-Request-Id:", "invalid header name"},
		{"X-Request-Id\r\nX-Evil", "invalid header name"},
		{"authorization", "'Authorization' is reserved"},
		{"X-Api-Key", "'X-Api-Key' is reserved"},
		{"host", "'Host' is reserved"},
		{"X-Forwarded-For", "'X-Forwarded-For' is reserved"},
		{"x-awra-scopes", "'X-Awra-Scopes' is reserved"},
		{"X-Awra-Trace", "X-Awra-* names are the gateway's own"},
		{"Via", "'Via' is reserved"},
		{"x-original-url", "'X-Original-Url' is reserved"},
		{"X-Forwarded-Uri", "'X-Forwarded-Uri' is reserved"},
		{"X-Real-IP", "'X-Real-Ip' is reserved"},
		{"stripe-signature", "'Stripe-Signature' is reserved"},
		{"X-Paystack-Signature", "'X-Paystack-Signature' is reserved"},
		{"webhook-id", "'Webhook-Id' is reserved"},
		{"svix-signature", "'Svix-Signature' is reserved"},
		{"X-Hub-Signature", "'X-Hub-Signature' is reserved"},
		{"intuit-signature", "'Intuit-Signature' is reserved"},
		{"Accept-Encoding", "'Accept-Encoding' is reserved"},
		{"content-type", "'Content-Type' is reserved"},
		{"If-None-Match", "'If-None-Match' is reserved"},
		{"X-Forwarded-Prefix", "'X-Forwarded-Prefix' is reserved"},
	} {
		_, err := resolveRequestIDHeader(tt.option)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("resolveRequestIDHeader(%q) error = %v, want one containing %q", tt.option, err, tt.wantErr)
		}
	}
}

func TestRequestIDHeaderCaddyfile(t *testing.T) {
	for _, value := range []string{"X-Request-Id", "off"} {
		var a App
		if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("awra {\nrequest_id_header " + value + "\n}")); err != nil {
			t.Fatalf("UnmarshalCaddyfile(request_id_header %s): %v", value, err)
		}
		if a.RequestIDHeader != value {
			t.Errorf("RequestIDHeader = %q, want %q", a.RequestIDHeader, value)
		}
	}
}

func TestCheckIDHeaderClash(t *testing.T) {
	for _, tt := range []struct {
		idHeader, name string
		clash          bool
	}{
		{"X-Request-Id", "x-request-id", true},
		{"X-Request-Id", "X-REQUEST-ID", true},
		{"X-Request-Id", "X-Signature", false},
		{"X-Request-Id", "", false},
		{"", "X-Request-Id", false}, // request id off
		{"X-Awra-Request-Id", "X-Request-Id", false},
	} {
		err := checkIDHeaderClash(tt.idHeader, "awra_webhook: header", tt.name)
		if (err != nil) != tt.clash {
			t.Errorf("checkIDHeaderClash(%q, %q) = %v, want clash %v", tt.idHeader, tt.name, err, tt.clash)
		}
		if err != nil && !strings.Contains(err.Error(), "awra_webhook: header '"+tt.name+"' is also the request_id_header of the awra global option") {
			t.Errorf("error %q does not name the option and the header", err)
		}
	}
}
