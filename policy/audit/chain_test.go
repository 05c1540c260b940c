package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func sampleEvent() *Event {
	return &Event{
		V:         1,
		TS:        time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC),
		Instance:  "gw1-0a1b2c-deadbeef",
		Seq:       42,
		RequestID: "r-1",
		Module:    ModuleWebhook,
		Decision:  DecisionDeny,
		Reason:    "signature_invalid",
		Status:    401,
		KeyID:     "",
		ClientIP:  "2001:db8::1",
		PeerIP:    "127.0.0.1",
		Method:    "POST",
		Host:      "hooks.example.com",
		Path:      "/hooks/paystack",
		Scopes:    "",
		Provider:  "paystack",
		LatencyUS: 250,
		Detail:    "",
		PrevHash:  strings.Repeat("ab", 32),
	}
}

func TestCanonicalForm(t *testing.T) {
	want := "v:1:1\n" +
		"ts:29:2026-03-04T05:06:07.00000089Z\n" +
		"instance:19:gw1-0a1b2c-deadbeef\n" +
		"seq:2:42\n" +
		"request_id:3:r-1\n" +
		"module:7:webhook\n" +
		"decision:4:deny\n" +
		"reason:17:signature_invalid\n" +
		"status:3:401\n" +
		"key_id:0:\n" +
		"client_ip:11:2001:db8::1\n" +
		"peer_ip:9:127.0.0.1\n" +
		"method:4:POST\n" +
		"host:17:hooks.example.com\n" +
		"path:15:/hooks/paystack\n" +
		"scopes:0:\n" +
		"provider:8:paystack\n" +
		"latency_us:3:250\n" +
		"detail:0:\n"
	if got := string(sampleEvent().Canonical()); got != want {
		t.Fatalf("Canonical() =\n%s\nwant\n%s", got, want)
	}
}

func TestComputeHashIsHMACOverPrevHashAndCanonical(t *testing.T) {
	key := testChainKey(t)
	ev := sampleEvent()

	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ev.PrevHash))
	mac.Write(ev.Canonical())
	want := hex.EncodeToString(mac.Sum(nil))

	if got := ComputeHash(key, ev); got != want {
		t.Fatalf("ComputeHash() = %s, want %s", got, want)
	}

	// The chain hasher used by the writer and the verifier agrees.
	v := ev.values()
	h := newChainHasher(key)
	if got := h.sum(&v); got != want {
		t.Fatalf("chainHasher.sum() = %s, want %s", got, want)
	}
	if !h.equal(&v, want) {
		t.Fatalf("chainHasher.equal(%s) = false, want true", want)
	}
	if h.equal(&v, strings.ToUpper(want)) {
		t.Fatal("chainHasher.equal(upper-case hash) = true, want false")
	}
	if h.equal(&v, want[:62]) {
		t.Fatal("chainHasher.equal(short hash) = true, want false")
	}
}

// Every field change, including the chain position and the link, changes
// the hash.
func TestComputeHashCoversEveryField(t *testing.T) {
	key := testChainKey(t)
	base := ComputeHash(key, sampleEvent())
	changes := map[string]func(*Event){
		"v":          func(e *Event) { e.V = 2 },
		"ts":         func(e *Event) { e.TS = e.TS.Add(time.Nanosecond) },
		"instance":   func(e *Event) { e.Instance += "x" },
		"seq":        func(e *Event) { e.Seq++ },
		"request_id": func(e *Event) { e.RequestID = "r-2" },
		"module":     func(e *Event) { e.Module = ModuleAPIKey },
		"decision":   func(e *Event) { e.Decision = DecisionAllow },
		"reason":     func(e *Event) { e.Reason = "" },
		"status":     func(e *Event) { e.Status = 200 },
		"key_id":     func(e *Event) { e.KeyID = "k" },
		"client_ip":  func(e *Event) { e.ClientIP = "2001:db8::2" },
		"peer_ip":    func(e *Event) { e.PeerIP = "127.0.0.2" },
		"method":     func(e *Event) { e.Method = "GET" },
		"host":       func(e *Event) { e.Host = "evil.example.com" },
		"path":       func(e *Event) { e.Path = "/hooks/other" },
		"scopes":     func(e *Event) { e.Scopes = "a:b" },
		"provider":   func(e *Event) { e.Provider = "stripe" },
		"latency_us": func(e *Event) { e.LatencyUS = 251 },
		"detail":     func(e *Event) { e.Detail = "x" },
		"prev_hash":  func(e *Event) { e.PrevHash = strings.Repeat("cd", 32) },
	}
	if len(changes) != numFields-1 {
		t.Fatalf("test changes %d fields, want every field but hash (%d)", len(changes), numFields-1)
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			ev := sampleEvent()
			change(ev)
			if got := ComputeHash(key, ev); got == base {
				t.Fatalf("ComputeHash() after changing %s = %s, the unchanged hash", name, got)
			}
		})
	}
}

// Moving text between neighbouring fields, or writing a fake field into a
// value, never yields the canonical form of another event.
func TestCanonicalResistsFieldForgery(t *testing.T) {
	tests := []struct {
		name string
		a, b func(*Event)
	}{
		{
			name: "text moved between path and scopes",
			a:    func(e *Event) { e.Path, e.Scopes = "/a/b", "" },
			b:    func(e *Event) { e.Path, e.Scopes = "/a", "/b" },
		},
		{
			name: "fake field line inside a value",
			a:    func(e *Event) { e.Path, e.Scopes = "/x\nscopes:5:admin", "" },
			b:    func(e *Event) { e.Path, e.Scopes = "/x", "admin" },
		},
		{
			name: "fake length prefix inside a value",
			a:    func(e *Event) { e.Host, e.Path = "h\npath:2:/p", "" },
			b:    func(e *Event) { e.Host, e.Path = "h", "/p" },
		},
		{
			name: "empty and missing look alike in plain joins",
			a:    func(e *Event) { e.KeyID, e.ClientIP = ":", "" },
			b:    func(e *Event) { e.KeyID, e.ClientIP = "", ":" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := sampleEvent(), sampleEvent()
			tt.a(a)
			tt.b(b)
			if string(a.Canonical()) == string(b.Canonical()) {
				t.Fatalf("Canonical() of two different events is equal:\n%s", a.Canonical())
			}
		})
	}
}

func TestCheckChainKey(t *testing.T) {
	tests := []struct {
		name    string
		length  int
		wantErr bool
	}{
		{"empty", 0, true},
		{"one below minimum", MinChainKeyLen - 1, true},
		{"minimum", MinChainKeyLen, false},
		{"recommended", RecommendedChainKeyLen, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := make([]byte, tt.length)
			for i := range key {
				key[i] = 'S' // a byte that must not show up in the message
			}
			err := checkChainKey(key)
			if (err != nil) != tt.wantErr {
				t.Fatalf("checkChainKey(%d bytes) = %v, want error %v", tt.length, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "SSSS") {
				t.Fatalf("checkChainKey() error %q contains the key", err)
			}
		})
	}
}
