package webhook

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in       string
		wantN    int64
		wantKind timestampKind
	}{
		{"1767225600", 1767225600, timestampSeconds},
		{"0000000001", 1, timestampSeconds},
		{"9999999999", 9999999999, timestampSeconds},
		{"1767225600123", 1767225600123, timestampMilliseconds},
		{"", 0, timestampMalformed},
		{"176722560", 0, timestampMalformed},
		{"17672256000", 0, timestampMalformed},
		{"176722560012", 0, timestampMalformed},
		{"17672256001234", 0, timestampMalformed},
		{"+767225600", 0, timestampMalformed},
		{"-767225600", 0, timestampMalformed},
		{"1767225600.", 0, timestampMalformed},
		{"176722560.0", 0, timestampMalformed},
		{" 767225600", 0, timestampMalformed},
		{"176722560 ", 0, timestampMalformed},
		{"1767225600\x00123", 0, timestampMalformed},
		{"１７６７２２", 0, timestampMalformed},
		{"0x69557e80", 0, timestampMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, kind := parseTimestamp(tt.in)
			if n != tt.wantN || kind != tt.wantKind {
				t.Errorf("parseTimestamp(%q) = %d, %d, want %d, %d", tt.in, n, kind, tt.wantN, tt.wantKind)
			}
		})
	}
}

func TestCheckTimestampBounds(t *testing.T) {
	now := time.Unix(1767225600, 500_000_000) // half a second past the stamp
	tests := []struct {
		name  string
		value int64
		ok    bool
	}{
		{"300 s old counted from the half second", 1767225600 - 299, true},
		{"300.5 s old", 1767225600 - 300, false},
		{"299.5 s ahead", 1767225600 + 300, true},
		{"300.5 s ahead", 1767225600 + 301, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := checkTimestamp(now, tt.value, timestampSeconds, 5*time.Minute, "window")
			if r.OK() != tt.ok {
				t.Errorf("checkTimestamp(%d) ok = %v, want %v", tt.value, r.OK(), tt.ok)
			}
		})
	}
}

func TestDecodeSignature(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	hexSum := encodingHex.encode(sum[:])
	b64Sum := encodingBase64.encode(sum[:])
	tests := []struct {
		name string
		enc  sigEncoding
		in   string
		ok   bool
	}{
		{"hex", encodingHex, hexSum, true},
		{"hex upper case", encodingHex, strings.ToUpper(hexSum), false},
		{"hex short", encodingHex, hexSum[:63], false},
		{"hex long", encodingHex, hexSum + "0", false},
		{"hex with space", encodingHex, " " + hexSum[1:], false},
		{"hex non-ascii", encodingHex, "é" + hexSum[2:], false},
		{"base64", encodingBase64, b64Sum, true},
		{"base64 unpadded", encodingBase64, strings.TrimRight(b64Sum, "="), false},
		{"base64 extra padding", encodingBase64, b64Sum + "=", false},
		{"base64 padding in the middle", encodingBase64, b64Sum[:20] + "=" + b64Sum[21:], false},
		{"base64 with newline", encodingBase64, b64Sum[:20] + "\n" + b64Sum[21:], false},
		{"base64 url alphabet", encodingBase64, strings.Repeat("-", 43) + "=", false},
		{"base64 non-zero trailing bits", encodingBase64, flipTrailingBits(b64Sum), false},
		{"empty", encodingHex, "", false},
		{"unknown encoding", sigEncoding(9), hexSum, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]byte, sha256.Size)
			ok := decodeSignature(tt.enc, tt.in, dst)
			if ok != tt.ok {
				t.Errorf("decodeSignature(%d, %q) = %v, want %v", tt.enc, tt.in, ok, tt.ok)
			}
			if ok && !bytes.Equal(dst, sum[:]) {
				t.Errorf("decodeSignature(%d, %q) decoded %x, want %x", tt.enc, tt.in, dst, sum)
			}
		})
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		tmpl          string
		hasTS, hasID  bool
		wantKinds     []partKind
		wantForbidden string
	}{
		{"{body}", false, false, []partKind{partBody}, ""},
		{"{timestamp}.{body}", true, false, []partKind{partTimestamp, partLiteral, partBody}, ""},
		{"{timestamp}{body}", true, false, []partKind{partTimestamp, partBody}, ""},
		{"v0:{timestamp}:{body}", true, false, []partKind{partLiteral, partTimestamp, partLiteral, partBody}, ""},
		{"{id}.{timestamp}.{body}", true, true, []partKind{partID, partLiteral, partTimestamp, partLiteral, partBody}, "."},
		{"<{id}>{body}", false, true, []partKind{partLiteral, partID, partLiteral, partBody}, "<>"},
		{"{body}|{id}", false, true, []partKind{partBody, partLiteral, partID}, "|"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			parts, forbidden, err := parseTemplate(tt.tmpl, tt.hasTS, tt.hasID)
			if err != nil {
				t.Fatalf("parseTemplate(%q) error: %v", tt.tmpl, err)
			}
			var kinds []partKind
			for _, p := range parts {
				kinds = append(kinds, p.kind)
			}
			if len(kinds) != len(tt.wantKinds) {
				t.Fatalf("parseTemplate(%q) kinds = %v, want %v", tt.tmpl, kinds, tt.wantKinds)
			}
			for i := range kinds {
				if kinds[i] != tt.wantKinds[i] {
					t.Errorf("parseTemplate(%q) kinds = %v, want %v", tt.tmpl, kinds, tt.wantKinds)
					break
				}
			}
			if forbidden != tt.wantForbidden {
				t.Errorf("parseTemplate(%q) forbidden = %q, want %q", tt.tmpl, forbidden, tt.wantForbidden)
			}
		})
	}
}

func TestGenericIDCannotShiftIntoBody(t *testing.T) {
	// With "{id}:{timestamp}.{body}", an id containing ':' could move
	// bytes between the id and the signed string's tail.
	secret := rawSecret(t)
	v, err := New(Config{Provider: ProviderHMAC, Secrets: []string{secret}, HMAC: genericOptions})
	if err != nil {
		t.Fatal(err)
	}
	h := fixtureNamed(t, ProviderHMAC).build(secret, stamp(0), "a:b", sampleBody)
	checkResult(t, v.Verify(testNow, h, sampleBody), policy.ReasonSignatureInvalid)
}
