package webhook

import (
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/awra/awragate/policy"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/. The properties below
// hold for every input: no panic, and every accepted signature has exactly
// one spelling, so a parser cannot be talked into two readings of a header.

func FuzzStripeHeader(f *testing.F) {
	hexSig := strings.Repeat("ab", 32)
	f.Add("t=1767225600,v1=" + hexSig)
	f.Add("t=1767225600,v1=" + hexSig + ",v0=" + hexSig)
	f.Add("v1=" + hexSig + ",t=1767225600")
	f.Add("t=1767225600123,v1=" + hexSig)
	f.Add("t=1,t=2,v1=" + hexSig)
	f.Add("t=1767225600, v1=" + hexSig)
	f.Add(",,,")
	f.Fuzz(func(t *testing.T, value string) {
		var cands candidates
		stamp, ok := parseStripeHeader(value, &cands)
		if !ok {
			return
		}
		if !validID(stamp) || !strings.Contains(value, "t="+stamp) {
			t.Errorf("parseStripeHeader(%q) timestamp = %q, not an item of the header", value, stamp)
		}
		if cands.n < 1 || cands.n > maxCandidates {
			t.Errorf("parseStripeHeader(%q) read %d signatures, want 1 to %d", value, cands.n, maxCandidates)
		}
		for i := 0; i < cands.n; i++ {
			if enc := encodingHex.encode(cands.sums[i][:sha256.Size]); !strings.Contains(value, "v1="+enc) {
				t.Errorf("parseStripeHeader(%q) signature %d re-encodes to %q, which the header does not contain", value, i, enc)
			}
		}
		if strings.Count(value, ",")+1 > maxHeaderItems {
			t.Errorf("parseStripeHeader(%q) accepted more than %d items", value, maxHeaderItems)
		}
	})
}

func FuzzStandardSignatures(f *testing.F) {
	b64Sig := encodingBase64.encode(make([]byte, 32))
	f.Add("v1," + b64Sig)
	f.Add("v1," + b64Sig + " v1," + b64Sig)
	f.Add("v1a,AAAA v1," + b64Sig)
	f.Add("v1," + strings.TrimRight(b64Sig, "="))
	f.Add("v1," + b64Sig + "  v1," + b64Sig)
	f.Add("v1,\n" + b64Sig[1:])
	f.Add(" ")
	f.Fuzz(func(t *testing.T, value string) {
		var cands candidates
		if !parseStandardSignatures(value, &cands) {
			return
		}
		if cands.n < 1 || cands.n > maxCandidates {
			t.Errorf("parseStandardSignatures(%q) read %d signatures, want 1 to %d", value, cands.n, maxCandidates)
		}
		entries := strings.Split(value, " ")
		if len(entries) > maxHeaderItems {
			t.Errorf("parseStandardSignatures(%q) accepted %d entries, more than %d", value, len(entries), maxHeaderItems)
		}
		for i := 0; i < cands.n; i++ {
			enc := "v1," + encodingBase64.encode(cands.sums[i][:sha256.Size])
			found := false
			for _, e := range entries {
				found = found || e == enc
			}
			if !found {
				t.Errorf("parseStandardSignatures(%q) signature %d re-encodes to %q, which is not an entry", value, i, enc)
			}
		}
	})
}

func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{"1767225600", "1767225600123", "+767225600", "176722560.", " 767225600", "", "١٧٦٧٢٢٥٦٠٠"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, kind := parseTimestamp(s)
		allDigits := s != ""
		for i := 0; i < len(s); i++ {
			allDigits = allDigits && s[i] >= '0' && s[i] <= '9'
		}
		wantKind := timestampMalformed
		switch {
		case allDigits && len(s) == 10:
			wantKind = timestampSeconds
		case allDigits && len(s) == 13:
			wantKind = timestampMilliseconds
		}
		if kind != wantKind {
			t.Fatalf("parseTimestamp(%q) kind = %d, want %d", s, kind, wantKind)
		}
		if kind == timestampMalformed {
			return
		}
		if want, err := strconv.ParseInt(s, 10, 64); err != nil || n != want {
			t.Errorf("parseTimestamp(%q) = %d, want %d (strconv error %v)", s, n, want, err)
		}
	})
}

func FuzzHMACSignature(f *testing.F) {
	hexSig := strings.Repeat("0f", 32)
	b64Sig := encodingBase64.encode([]byte(strings.Repeat("k", 32)))
	f.Add("sha256="+hexSig, "sha256=", false)
	f.Add("SHA256="+hexSig, "sha256=", false)
	f.Add(b64Sig, "", true)
	f.Add(strings.TrimRight(b64Sig, "="), "", true)
	f.Add("v0="+strings.ToUpper(hexSig), "v0=", false)
	f.Fuzz(func(t *testing.T, value, prefix string, useBase64 bool) {
		e := encodingHex
		if useBase64 {
			e = encodingBase64
		}
		dst := make([]byte, sha256.Size)
		if !parseHMACSignature(value, prefix, e, dst) {
			return
		}
		if canonical := prefix + e.encode(dst); canonical != value {
			t.Errorf("parseHMACSignature(%q, %q, %d) accepted a non-canonical spelling of %q", value, prefix, e, canonical)
		}
	})
}

func FuzzTemplate(f *testing.F) {
	f.Add("{id}.{timestamp}.{body}", true, true)
	f.Add("v0:{timestamp}:{body}", true, false)
	f.Add("{body}", false, false)
	f.Add("{{body}}", false, false)
	f.Add("{id}{body}", false, true)
	f.Fuzz(func(t *testing.T, tmpl string, hasTimestamp, hasID bool) {
		parts, forbidden, err := parseTemplate(tmpl, hasTimestamp, hasID)
		if err != nil {
			return
		}
		var rebuilt strings.Builder
		counts := map[partKind]int{}
		for i, p := range parts {
			counts[p.kind]++
			switch p.kind {
			case partLiteral:
				rebuilt.Write(p.literal)
			case partTimestamp:
				rebuilt.WriteString("{timestamp}")
			case partID:
				rebuilt.WriteString("{id}")
				for _, j := range []int{i - 1, i + 1} {
					if j >= 0 && j < len(parts) && parts[j].kind != partLiteral {
						t.Errorf("parseTemplate(%q) accepted {id} next to another placeholder", tmpl)
					}
				}
			case partBody:
				rebuilt.WriteString("{body}")
			}
		}
		if rebuilt.String() != tmpl {
			t.Errorf("parseTemplate(%q) parts rebuild %q", tmpl, rebuilt.String())
		}
		if counts[partBody] != 1 || (counts[partTimestamp] == 1) != hasTimestamp || (counts[partID] == 1) != hasID {
			t.Errorf("parseTemplate(%q, %v, %v) placeholder counts = %v", tmpl, hasTimestamp, hasID, counts)
		}
		if !hasID && forbidden != "" {
			t.Errorf("parseTemplate(%q) forbids %q without an id", tmpl, forbidden)
		}
	})
}

// FuzzVerify feeds arbitrary header values and bodies to every provider.
// The secrets are random, so nothing may pass, and every rejection must
// carry one of the three webhook reasons and a detail.
func FuzzVerify(f *testing.F) {
	f.Add("sha256="+strings.Repeat("0", 64), "1767225600", "msg_1", []byte("{}"))
	f.Add("t=1767225600,v1="+strings.Repeat("0", 64), "", "", []byte{0xff})
	f.Add("v1,"+encodingBase64.encode(make([]byte, 32)), "1767225600123", "msg 1", []byte(nil))
	verifiers := make([]*Verifier, len(fixtures))
	for i, fx := range fixtures {
		v, err := New(fx.config(fx.newSecret(f)))
		if err != nil {
			f.Fatal(err)
		}
		verifiers[i] = v
	}
	f.Fuzz(func(t *testing.T, signature, stamp, id string, body []byte) {
		for i, fx := range fixtures {
			h := http.Header{}
			for _, name := range []string{fx.sigHeader, "Svix-Signature"} {
				h[name] = []string{signature}
			}
			for _, name := range []string{fx.stampHeader, "Svix-Timestamp"} {
				if name != "" && name != fx.sigHeader {
					h[name] = []string{stamp}
				}
			}
			for _, name := range []string{fx.idHeader, "Svix-Id"} {
				if name != "" {
					h[name] = []string{id}
				}
			}
			r := verifiers[i].Verify(testNow, h, body)
			switch r.Reason {
			case policy.ReasonSignatureMissing, policy.ReasonSignatureInvalid, policy.ReasonTimestampOutOfTolerance:
			default:
				t.Errorf("%s: Verify() reason = %q, want a rejection", fx.name, r.Reason)
			}
			if r.Detail == "" {
				t.Errorf("%s: Verify() detail is empty", fx.name)
			}
		}
	})
}
