package fleet

import (
	"strings"
	"testing"

	"github.com/awra/awragate/policy"
)

func TestParseEvent(t *testing.T) {
	valid := []struct {
		name string
		in   string
		want Event
	}{
		{"key revoked", `{"v":1,"op":"key","key_id":"k1","rev":7,"status":"revoked"}`, Event{V: 1, Op: OpKey, KeyID: "k1", Rev: 7, Status: policy.KeyRevoked}},
		{"quarantine", `{"v":1,"op":"quarantine","key_id":"k-2","instance":"gw1"}`, Event{V: 1, Op: OpQuarantine, KeyID: "k-2", Instance: "gw1"}},
		{"lift", `{"v":1,"op":"lift","key_id":"k3"}`, Event{V: 1, Op: OpLift, KeyID: "k3"}},
		{"unknown field ignored", `{"v":1,"op":"lift","key_id":"k3","later":true}`, Event{V: 1, Op: OpLift, KeyID: "k3"}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.in))
			if err != nil || got != tt.want {
				t.Errorf("ParseEvent(%s) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
		})
	}

	invalid := []struct {
		name string
		in   string
	}{
		{"empty", ``},
		{"not json", `hello`},
		{"array", `[1]`},
		{"wrong version", `{"v":2,"op":"lift","key_id":"k"}`},
		{"missing version", `{"op":"lift","key_id":"k"}`},
		{"unknown op", `{"v":1,"op":"delete","key_id":"k"}`},
		{"missing key id", `{"v":1,"op":"lift"}`},
		{"upper-case key id", `{"v":1,"op":"lift","key_id":"K"}`},
		{"key id with newline", `{"v":1,"op":"lift","key_id":"k\n"}`},
		{"key op without rev", `{"v":1,"op":"key","key_id":"k","status":"active"}`},
		{"key op negative rev", `{"v":1,"op":"key","key_id":"k","rev":-1,"status":"active"}`},
		{"key op bad status", `{"v":1,"op":"key","key_id":"k","rev":1,"status":"deleted"}`},
		{"key op missing status", `{"v":1,"op":"key","key_id":"k","rev":1}`},
		{"trailing data", `{"v":1,"op":"lift","key_id":"k"} {}`},
		{"too large", `{"v":1,"op":"lift","key_id":"k","pad":"` + strings.Repeat("x", 2000) + `"}`},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ParseEvent([]byte(tt.in)); err == nil {
				t.Errorf("ParseEvent(%.60s) = %+v, nil, want an error", tt.in, got)
			}
		})
	}
}

func TestEventEncodeRoundTrip(t *testing.T) {
	events := []Event{
		{V: 1, Op: OpKey, KeyID: "k1", Rev: 3, Status: policy.KeySuspended},
		{V: 1, Op: OpQuarantine, KeyID: "k1", Instance: "gw-1"},
	}
	for _, e := range events {
		got, err := ParseEvent(e.Encode())
		if err != nil || got != e {
			t.Errorf("ParseEvent(%s) = %+v, %v, want %+v", e.Encode(), got, err, e)
		}
	}
}

func TestEventDenies(t *testing.T) {
	tests := []struct {
		e    Event
		want bool
	}{
		{Event{Op: OpKey, Status: policy.KeyRevoked}, true},
		{Event{Op: OpKey, Status: policy.KeySuspended}, true},
		{Event{Op: OpKey, Status: policy.KeyActive}, false},
		{Event{Op: OpQuarantine}, false},
	}
	for _, tt := range tests {
		if got := tt.e.Denies(); got != tt.want {
			t.Errorf("%+v.Denies() = %v, want %v", tt.e, got, tt.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\nb\x1b[31m", "a?b?[31m"},
		{strings.Repeat("x", 100), strings.Repeat("x", 64)},
		{"é", "??"},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"v":1,"op":"key","key_id":"k1","rev":7,"status":"revoked"}`))
	f.Add([]byte(`{"v":1,"op":"quarantine","key_id":"k-2","instance":"gw1"}`))
	f.Add([]byte(`{"v":1,"op":"lift","key_id":"k3"}`))
	f.Add([]byte(`{"v":1,"op":"key","key_id":"k","rev":1e400,"status":"active"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			return
		}
		if !policy.ValidKeyID(e.KeyID) {
			t.Errorf("ParseEvent accepted invalid key id %q", e.KeyID)
		}
		again, err := ParseEvent(e.Encode())
		if err != nil || again != e {
			t.Errorf("ParseEvent(Encode(%+v)) = %+v, %v, want the same event", e, again, err)
		}
	})
}
