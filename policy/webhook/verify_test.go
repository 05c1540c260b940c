package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

func newVerifier(t *testing.T, f fixture, secrets ...string) *Verifier {
	t.Helper()
	v, err := New(f.config(secrets...))
	if err != nil {
		t.Fatalf("New(%s config) error: %v", f.name, err)
	}
	return v
}

// checkResult fails the test unless r has the reason want. It never prints
// header values, which could contain test secrets' signatures.
func checkResult(t *testing.T, r Result, want policy.Reason) {
	t.Helper()
	if r.Reason != want {
		t.Errorf("Verify() reason = %q (detail %q), want %q", r.Reason, r.Detail, want)
	}
	if want != policy.ReasonNone && r.Detail == "" {
		t.Errorf("Verify() rejected with reason %q but an empty detail", r.Reason)
	}
}

func TestVerifyBodies(t *testing.T) {
	reserialized := func() []byte {
		var v any
		if err := json.Unmarshal(sampleBody, &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	oneByteChanged := bytes.Replace(sampleBody, []byte("1200"), []byte("1201"), 1)

	tests := []struct {
		name     string
		signed   []byte
		received []byte
		want     policy.Reason
	}{
		{"valid", sampleBody, sampleBody, policy.ReasonNone},
		{"one byte changed", sampleBody, oneByteChanged, policy.ReasonSignatureInvalid},
		{"json re-serialized", sampleBody, reserialized, policy.ReasonSignatureInvalid},
		{"trailing newline added", sampleBody, append(append([]byte{}, sampleBody...), '\n'), policy.ReasonSignatureInvalid},
		{"body truncated", sampleBody, sampleBody[:len(sampleBody)-1], policy.ReasonSignatureInvalid},
		{"multi-byte utf-8", []byte(`{"name":"Adébáyọ̀ 東京 🚀"}`), []byte(`{"name":"Adébáyọ̀ 東京 🚀"}`), policy.ReasonNone},
		{"invalid utf-8", []byte{'{', 0xff, 0xfe, 0xc3, 0x28, '}'}, []byte{'{', 0xff, 0xfe, 0xc3, 0x28, '}'}, policy.ReasonNone},
		{"nul bytes", []byte{0, 0, 0}, []byte{0, 0, 0}, policy.ReasonNone},
		{"empty body", []byte{}, nil, policy.ReasonNone},
	}
	for _, f := range fixtures {
		secret := f.newSecret(t)
		v := newVerifier(t, f, secret)
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				h := f.build(secret, stamp(0), "msg_1", tt.signed)
				checkResult(t, v.Verify(testNow, h, tt.received), tt.want)
			})
		}
	}
}

func TestVerifyWrongSecret(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			v := newVerifier(t, f, f.newSecret(t))
			h := f.build(f.newSecret(t), stamp(0), "msg_1", sampleBody)
			r := v.Verify(testNow, h, sampleBody)
			checkResult(t, r, policy.ReasonSignatureInvalid)
			if r.Detail != detailMismatch {
				t.Errorf("Verify() detail = %q, want %q", r.Detail, detailMismatch)
			}
		})
	}
}

func TestVerifySignatureHeaderPresence(t *testing.T) {
	for _, f := range fixtures {
		secret := f.newSecret(t)
		v := newVerifier(t, f, secret)
		valid := f.build(secret, stamp(0), "msg_1", sampleBody)
		value := valid.Get(f.sigHeader)

		tests := []struct {
			name   string
			values []string // nil deletes the header
			want   policy.Reason
		}{
			{"missing", nil, policy.ReasonSignatureMissing},
			{"empty", []string{""}, policy.ReasonSignatureMissing},
			{"sent twice identical", []string{value, value}, policy.ReasonSignatureInvalid},
			{"sent twice, second empty", []string{value, ""}, policy.ReasonSignatureInvalid},
			{"sent twice, first empty", []string{"", value}, policy.ReasonSignatureInvalid},
		}
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				h := valid.Clone()
				if tt.values == nil {
					h.Del(f.sigHeader)
				} else {
					h[f.sigHeader] = tt.values
				}
				checkResult(t, v.Verify(testNow, h, sampleBody), tt.want)
			})
		}
	}
}

func TestVerifyMalformedSignature(t *testing.T) {
	for _, f := range fixtures {
		secret := f.newSecret(t)
		v := newVerifier(t, f, secret)
		valid := f.build(secret, stamp(0), "msg_1", sampleBody)
		pre, sig, post := f.split(valid.Get(f.sigHeader))

		mutations := map[string]string{
			"short":              pre + sig[:len(sig)-1] + post,
			"leading space":      " " + pre + sig + post,
			"trailing space":     pre + sig + post + " ",
			"trailing newline":   pre + sig + post + "\n",
			"embedded newline":   pre + sig[:8] + "\n" + sig[9:] + post,
			"signature repeated": pre + sig + sig + post,
		}
		if pre+post != "" {
			mutations["empty signature"] = pre + post
		}
		if f.encoding == "hex" {
			mutations["long"] = pre + sig + "00" + post
			mutations["one hex digit more"] = pre + sig + "0" + post
			mutations["non-hex digit"] = pre + "g" + sig[1:] + post
			mutations["upper-case hex"] = pre + strings.ToUpper(sig) + post
			mutations["base64 of the mac"] = pre + hexToBase64(t, sig) + post
		} else {
			mutations["long"] = pre + sig + "AAAA" + post
			mutations["non-base64 character"] = pre + "*" + sig[1:] + post
			mutations["padding removed"] = pre + strings.TrimRight(sig, "=") + post
			mutations["url alphabet"] = pre + strings.NewReplacer("+", "-", "/", "_").Replace(sig) + "-_" + post
			mutations["hex of the mac"] = pre + base64ToHex(t, sig) + post
			mutations["non-zero trailing bits"] = pre + flipTrailingBits(sig) + post
		}
		for name, prefix := range f.badPrefixes {
			mutations[name] = prefix(pre) + sig + post
		}

		for name, value := range mutations {
			t.Run(f.name+"/"+name, func(t *testing.T) {
				h := valid.Clone()
				h.Set(f.sigHeader, value)
				checkResult(t, v.Verify(testNow, h, sampleBody), policy.ReasonSignatureInvalid)
			})
		}
	}
}

func TestVerifyTimestampWindow(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration
		want   policy.Reason
	}{
		{"301 s old", -301 * time.Second, policy.ReasonTimestampOutOfTolerance},
		{"300 s old", -300 * time.Second, policy.ReasonNone},
		{"299 s old", -299 * time.Second, policy.ReasonNone},
		{"now", 0, policy.ReasonNone},
		{"299 s ahead", 299 * time.Second, policy.ReasonNone},
		{"300 s ahead", 300 * time.Second, policy.ReasonNone},
		{"301 s ahead", 301 * time.Second, policy.ReasonTimestampOutOfTolerance},
		{"one year old", -365 * 24 * time.Hour, policy.ReasonTimestampOutOfTolerance},
	}
	for _, f := range fixtures {
		if f.stampHeader == "" {
			continue
		}
		secret := f.newSecret(t)
		v := newVerifier(t, f, secret)
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				h := f.build(secret, stamp(tt.offset), "msg_1", sampleBody)
				r := v.Verify(testNow, h, sampleBody)
				checkResult(t, r, tt.want)
				if want := testNow.Add(tt.offset); !r.Timestamp.Equal(want) {
					t.Errorf("Verify() timestamp = %v, want %v", r.Timestamp, want)
				}
			})
		}
	}
}

func TestVerifyMalformedTimestamp(t *testing.T) {
	seconds := stamp(0)
	tests := []struct {
		name  string
		stamp string
		want  policy.Reason
	}{
		{"milliseconds", seconds + "123", policy.ReasonTimestampOutOfTolerance},
		{"plus sign", "+" + seconds[1:], policy.ReasonSignatureInvalid},
		{"leading plus", "+" + seconds, policy.ReasonSignatureInvalid},
		{"negative", "-" + seconds[1:], policy.ReasonSignatureInvalid},
		{"decimal", seconds[:9] + ".5", policy.ReasonSignatureInvalid},
		{"decimal seconds", seconds + ".5", policy.ReasonSignatureInvalid},
		{"leading space", " " + seconds[1:], policy.ReasonSignatureInvalid},
		{"trailing space", seconds + " ", policy.ReasonSignatureInvalid},
		{"nine digits", seconds[1:], policy.ReasonSignatureInvalid},
		{"eleven digits", seconds + "0", policy.ReasonSignatureInvalid},
		{"microseconds", seconds + "123456", policy.ReasonSignatureInvalid},
		{"hex", "0x69557e80", policy.ReasonSignatureInvalid},
		{"exponent", "1.7672256e9", policy.ReasonSignatureInvalid},
		{"rfc 3339", "2026-01-01T00:00:00Z", policy.ReasonSignatureInvalid},
		{"full-width digits", "１７６７２２５６００", policy.ReasonSignatureInvalid},
		{"arabic-indic digits", "١٧٦٧٢٢٥٦٠٠", policy.ReasonSignatureInvalid},
	}
	for _, f := range fixtures {
		if f.stampHeader == "" {
			continue
		}
		secret := f.newSecret(t)
		v := newVerifier(t, f, secret)
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				h := f.build(secret, tt.stamp, "msg_1", sampleBody)
				r := v.Verify(testNow, h, sampleBody)
				checkResult(t, r, tt.want)
				if tt.name == "milliseconds" && r.Detail != detailMilliseconds {
					t.Errorf("Verify() detail = %q, want %q", r.Detail, detailMilliseconds)
				}
			})
		}
	}
}

func TestVerifyMillisecondsNeedsSignature(t *testing.T) {
	// A 13-digit timestamp is explained only to a sender holding the secret.
	for _, f := range fixtures {
		if f.stampHeader == "" {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			v := newVerifier(t, f, f.newSecret(t))
			h := f.build(f.newSecret(t), stamp(0)+"000", "msg_1", sampleBody)
			checkResult(t, v.Verify(testNow, h, sampleBody), policy.ReasonSignatureInvalid)
		})
	}
}

func TestVerifyCompanionHeaders(t *testing.T) {
	for _, f := range fixtures {
		secret := f.newSecret(t)
		v := newVerifier(t, f, secret)
		valid := f.build(secret, stamp(0), "msg_1", sampleBody)

		for _, name := range []string{f.stampHeader, f.idHeader} {
			if name == "" || name == f.sigHeader {
				continue
			}
			value := valid.Get(name)
			tests := []struct {
				name   string
				values []string
				want   policy.Reason
			}{
				{"missing", nil, policy.ReasonSignatureMissing},
				{"empty", []string{""}, policy.ReasonSignatureMissing},
				{"sent twice identical", []string{value, value}, policy.ReasonSignatureInvalid},
				{"sent twice, second differs", []string{value, value + "1"}, policy.ReasonSignatureInvalid},
			}
			for _, tt := range tests {
				t.Run(f.name+"/"+name+" "+tt.name, func(t *testing.T) {
					h := valid.Clone()
					if tt.values == nil {
						h.Del(name)
					} else {
						h[name] = tt.values
					}
					checkResult(t, v.Verify(testNow, h, sampleBody), tt.want)
				})
			}
		}
	}
}

func TestVerifyIDs(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want policy.Reason
	}{
		{"typical", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", policy.ReasonNone},
		{"256 characters", strings.Repeat("a", 256), policy.ReasonNone},
		{"257 characters", strings.Repeat("a", 257), policy.ReasonSignatureInvalid},
		{"space", "msg 1", policy.ReasonSignatureInvalid},
		{"control character", "msg\x011", policy.ReasonSignatureInvalid},
		{"non-ascii", "msg_é", policy.ReasonSignatureInvalid},
	}
	for _, f := range fixtures {
		if f.idHeader == "" {
			continue
		}
		secret := f.newSecret(t)
		v := newVerifier(t, f, secret)
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				h := f.build(secret, stamp(0), tt.id, sampleBody)
				r := v.Verify(testNow, h, sampleBody)
				checkResult(t, r, tt.want)
				if tt.want == policy.ReasonNone && r.EventID != tt.id {
					t.Errorf("Verify() event id = %q, want %q", r.EventID, tt.id)
				}
			})
		}
	}
}

func TestVerifyRotation(t *testing.T) {
	for _, f := range fixtures {
		first, second, other := f.newSecret(t), f.newSecret(t), f.newSecret(t)
		tests := []struct {
			name       string
			configured []string
			signer     string
			want       policy.Reason
			wantIndex  int
		}{
			{"first alone", []string{first}, first, policy.ReasonNone, 0},
			{"second alone", []string{second}, second, policy.ReasonNone, 0},
			{"both, signed with first", []string{first, second}, first, policy.ReasonNone, 0},
			{"both, signed with second", []string{first, second}, second, policy.ReasonNone, 1},
			{"both, signed with neither", []string{first, second}, other, policy.ReasonSignatureInvalid, 0},
			{"first alone, signed with second", []string{first}, second, policy.ReasonSignatureInvalid, 0},
		}
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				v := newVerifier(t, f, tt.configured...)
				r := v.Verify(testNow, f.build(tt.signer, stamp(0), "msg_1", sampleBody), sampleBody)
				checkResult(t, r, tt.want)
				if r.OK() && r.SecretIndex != tt.wantIndex {
					t.Errorf("Verify() secret index = %d, want %d", r.SecretIndex, tt.wantIndex)
				}
			})
		}
	}
}

func TestVerifyZeroClock(t *testing.T) {
	// A zero time must not pass through an overflowing duration.
	for _, f := range fixtures {
		if f.stampHeader == "" {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			secret := f.newSecret(t)
			v := newVerifier(t, f, secret)
			r := v.Verify(time.Time{}, f.build(secret, stamp(0), "msg_1", sampleBody), sampleBody)
			checkResult(t, r, policy.ReasonTimestampOutOfTolerance)
		})
	}
}

func TestVerifyCustomTolerance(t *testing.T) {
	f := fixtureNamed(t, ProviderStripe)
	secret := f.newSecret(t)
	v, err := New(Config{Provider: ProviderStripe, Secrets: []string{secret}, Tolerance: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		offset time.Duration
		want   policy.Reason
	}{
		{-10 * time.Second, policy.ReasonNone},
		{-11 * time.Second, policy.ReasonTimestampOutOfTolerance},
		{11 * time.Second, policy.ReasonTimestampOutOfTolerance},
	} {
		r := v.Verify(testNow, f.build(secret, stamp(tt.offset), "", sampleBody), sampleBody)
		if r.Reason != tt.want {
			t.Errorf("Verify(offset %v) reason = %q, want %q", tt.offset, r.Reason, tt.want)
		}
	}
}

func TestDetailsHideSecrets(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			secret := f.newSecret(t)
			v := newVerifier(t, f, secret)
			good := f.build(secret, stamp(0), "msg_1", sampleBody)
			for _, h := range []http.Header{good, f.build(f.newSecret(t), stamp(0), "msg_1", sampleBody), {}} {
				r := v.Verify(testNow, h, []byte("tampered"))
				_, sig, _ := f.split(good.Get(f.sigHeader))
				if strings.Contains(r.Detail, secret) || strings.Contains(r.Detail, sig) {
					t.Errorf("Verify() detail contains the secret or the expected signature")
				}
			}
		})
	}
}

func hexToBase64(t *testing.T, s string) string {
	t.Helper()
	return encodeAs(encodingBase64, mustDecode(t, encodingHex, s))
}

func base64ToHex(t *testing.T, s string) string {
	t.Helper()
	return encodeAs(encodingHex, mustDecode(t, encodingBase64, s))
}

func encodeAs(e sigEncoding, b []byte) string { return e.encode(b) }

func mustDecode(t *testing.T, e sigEncoding, s string) []byte {
	t.Helper()
	size := len(s) / 2
	if e == encodingBase64 {
		size = len(s) / 4 * 3
		size -= strings.Count(s, "=")
	}
	dst := make([]byte, size)
	if !decodeSignature(e, s, dst) {
		t.Fatalf("decodeSignature(%d, signature) = false, want true", e)
	}
	return dst
}

// flipTrailingBits changes the last data character of a padded base64
// signature so that only its unused low bits differ.
func flipTrailingBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.TrimRight(s, "=")
	last := len(i) - 1
	idx := strings.IndexByte(alphabet, i[last])
	return i[:last] + string(alphabet[idx^1]) + s[len(i):]
}
