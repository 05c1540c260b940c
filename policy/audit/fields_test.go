package audit

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func validFields(t *testing.T) map[string]string {
	t.Helper()
	ev := sampleEvent()
	ev.Hash = ComputeHash(testChainKey(t), ev)
	return ev.Fields()
}

func TestParseFieldsRoundTrip(t *testing.T) {
	ev := sampleEvent()
	ev.Hash = strings.Repeat("0f", 32)
	got, err := ParseFields(ev.Fields())
	if err != nil {
		t.Fatalf("ParseFields(Fields()) error = %v", err)
	}
	if got.values() != ev.values() {
		t.Fatalf("ParseFields(Fields()) = %+v, want %+v", got, *ev)
	}
	if !got.TS.Equal(ev.TS) {
		t.Fatalf("ParseFields().TS = %v, want %v", got.TS, ev.TS)
	}
}

func TestParseFieldsRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(map[string]string)
		want   string // part of the error
	}{
		{"missing field", func(m map[string]string) { delete(m, "path") }, "'path' is missing"},
		{"missing hash", func(m map[string]string) { delete(m, "hash") }, "'hash' is missing"},
		{"extra field", func(m map[string]string) { m["admin"] = "1" }, "unexpected field 'admin'"},
		{"unknown version", func(m map[string]string) { m["v"] = "2" }, "schema version"},
		{"version with zero", func(m map[string]string) { m["v"] = "01" }, "schema version"},
		{"ts with offset", func(m map[string]string) { m["ts"] = "2026-03-04T06:06:07.00000089+01:00" }, "'ts'"},
		{"ts with trailing zeros", func(m map[string]string) { m["ts"] = "2026-03-04T05:06:07.000000890Z" }, "'ts'"},
		{"ts not a time", func(m map[string]string) { m["ts"] = "yesterday" }, "'ts'"},
		{"seq zero", func(m map[string]string) { m["seq"] = "0" }, "'seq'"},
		{"seq leading zero", func(m map[string]string) { m["seq"] = "042" }, "'seq'"},
		{"seq with sign", func(m map[string]string) { m["seq"] = "+42" }, "'seq'"},
		{"seq overflow", func(m map[string]string) { m["seq"] = "18446744073709551616" }, "'seq'"},
		{"seq empty", func(m map[string]string) { m["seq"] = "" }, "'seq'"},
		{"status too large", func(m map[string]string) { m["status"] = "1000" }, "'status'"},
		{"status negative", func(m map[string]string) { m["status"] = "-1" }, "'status'"},
		{"latency negative", func(m map[string]string) { m["latency_us"] = "-5" }, "'latency_us'"},
		{"latency beyond int64", func(m map[string]string) { m["latency_us"] = "9223372036854775808" }, "'latency_us'"},
		{"decision unknown", func(m map[string]string) { m["decision"] = "maybe" }, "'decision'"},
		{"decision upper case", func(m map[string]string) { m["decision"] = "DENY" }, "'decision'"},
		{"instance empty", func(m map[string]string) { m["instance"] = "" }, "'instance' is empty"},
		{"module empty", func(m map[string]string) { m["module"] = "" }, "'module' is empty"},
		{"hash upper case", func(m map[string]string) { m["hash"] = strings.ToUpper(m["hash"]) }, "'hash'"},
		{"hash short", func(m map[string]string) { m["hash"] = m["hash"][:63] }, "'hash'"},
		{"hash empty", func(m map[string]string) { m["hash"] = "" }, "'hash'"},
		{"prev_hash short", func(m map[string]string) { m["prev_hash"] = "abc" }, "'prev_hash'"},
		{"prev_hash not hex", func(m map[string]string) { m["prev_hash"] = strings.Repeat("zz", 32) }, "'prev_hash'"},
		{"invalid UTF-8", func(m map[string]string) { m["path"] = "/\xff" }, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validFields(t)
			tt.change(m)
			_, err := ParseFields(m)
			if err == nil {
				t.Fatalf("ParseFields() error = nil, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseFields() error = %q, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseFieldsQuotesUntrustedText(t *testing.T) {
	m := validFields(t)
	m["decision"] = "x\n" + strings.Repeat("y", 200)
	_, err := ParseFields(m)
	if err == nil {
		t.Fatal("ParseFields() error = nil, want an error")
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("ParseFields() error %q contains a raw newline", err)
	}
	if len(err.Error()) > 200 {
		t.Fatalf("ParseFields() error is %d bytes, want the value shortened", len(err.Error()))
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		name       string
		in         Event
		wantModule Module
		wantDec    Decision
		wantPath   string
		wantDetail string
	}{
		{"valid event unchanged", Event{Module: ModuleAPIKey, Decision: DecisionAllow, Path: "/a"}, ModuleAPIKey, DecisionAllow, "/a", ""},
		{"invalid UTF-8 replaced", Event{Module: ModuleAPIKey, Decision: DecisionDeny, Path: "/\xff\xfe"}, ModuleAPIKey, DecisionDeny, "/\uFFFD", ""},
		{"valid UTF-8 unchanged", Event{Module: ModuleAPIKey, Decision: DecisionDeny, Path: "/caf\u00e9"}, ModuleAPIKey, DecisionDeny, "/caf\u00e9", ""},
		{"invalid UTF-8 in the last field replaced", Event{Module: ModuleAPIKey, Decision: DecisionDeny, Path: "/a", Reason: "x\xc3"}, ModuleAPIKey, DecisionDeny, "/a", ""},
		{"empty module", Event{Decision: DecisionDeny}, ModuleUnknown, DecisionDeny, "", ""},
		{"unknown decision", Event{Module: ModuleAdmin, Decision: "ok", Detail: "key created"}, ModuleAdmin, DecisionDeny, "", "key created invalid decision 'ok'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.in
			ev.sanitize()
			if !utf8.ValidString(string(ev.Reason)) {
				t.Fatalf("sanitize() left reason %q invalid", ev.Reason)
			}
			if ev.Module != tt.wantModule || ev.Decision != tt.wantDec || ev.Path != tt.wantPath || ev.Detail != tt.wantDetail {
				t.Fatalf("sanitize() = module %q decision %q path %q detail %q, want %q %q %q %q",
					ev.Module, ev.Decision, ev.Path, ev.Detail, tt.wantModule, tt.wantDec, tt.wantPath, tt.wantDetail)
			}
		})
	}
}

// The writer's allocation-free formatting gives the stream's strings, also
// when the scratch buffer is reused or has to grow.
func TestSharedValuesFormatFields(t *testing.T) {
	big := sampleEvent()
	big.Seq = 1<<64 - 1
	big.LatencyUS = -1
	big.Status = 599
	big.TS = time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("east", 3600))
	small := sampleEvent()
	small.Seq = 1
	small.TS = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	for _, scratch := range [][]byte{nil, make([]byte, 0, 8), make([]byte, 0, 256)} {
		for _, ev := range []*Event{big, small, big} {
			var got fieldValues
			scratch = ev.sharedValues(&got, scratch)
			want := fieldValues{
				fieldV:         strconv.Itoa(ev.V),
				fieldTS:        ev.TS.UTC().Format(time.RFC3339Nano),
				fieldInstance:  ev.Instance,
				fieldSeq:       strconv.FormatUint(ev.Seq, 10),
				fieldRequestID: ev.RequestID,
				fieldModule:    string(ev.Module),
				fieldDecision:  string(ev.Decision),
				fieldReason:    string(ev.Reason),
				fieldStatus:    strconv.Itoa(ev.Status),
				fieldKeyID:     ev.KeyID,
				fieldClientIP:  ev.ClientIP,
				fieldPeerIP:    ev.PeerIP,
				fieldMethod:    ev.Method,
				fieldHost:      ev.Host,
				fieldPath:      ev.Path,
				fieldScopes:    ev.Scopes,
				fieldProvider:  ev.Provider,
				fieldLatencyUS: strconv.FormatInt(ev.LatencyUS, 10),
				fieldDetail:    ev.Detail,
				fieldPrevHash:  ev.PrevHash,
				fieldHash:      ev.Hash,
			}
			if got != want {
				t.Fatalf("sharedValues() = %q, want %q", got, want)
			}
			if values := ev.values(); values != want {
				t.Fatalf("values() = %q, want %q", values, want)
			}
		}
	}
}

// sumShared gives the same link as sum, and a link stays valid while the
// next one is computed.
func TestSumSharedKeepsPreviousLink(t *testing.T) {
	key := testChainKey(t)
	h := newChainHasher(key)
	first := sampleEvent()
	v1 := first.values()
	link1 := h.sumShared(&v1)
	want1 := ComputeHash(key, first)

	second := sampleEvent()
	second.PrevHash = link1
	v2 := second.values()
	link2 := h.sumShared(&v2)
	if link1 != want1 {
		t.Fatalf("first link after the next call = %s, want %s", link1, want1)
	}
	if want2 := ComputeHash(key, second); link2 != want2 {
		t.Fatalf("second link = %s, want %s", link2, want2)
	}
}
