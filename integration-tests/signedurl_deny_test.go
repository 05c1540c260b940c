package integrationtests

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/awra/awragate/policy/signedurl"
)

// sameSignatureBits returns sig with its last character replaced by the
// one that differs only in the two unused low bits, so that a lenient
// base64 decoder yields the same 32 bytes from a different spelling.
func sameSignatureBits(sig string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	return sig[:len(sig)-1] + string(alphabet[last^1])
}

// urlMACHex returns the HMAC of the canonical string of target in hex, the
// encoding a signer might use by mistake.
func urlMACHex(t *testing.T, k urlKey, host, target string) string {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	canonical, err := signedurl.Canonical(http.MethodGet, "http", host, path, query)
	if err != nil {
		t.Fatalf("signedurl.Canonical: %v", err)
	}
	mac := hmac.New(sha256.New, k.Secret)
	mac.Write([]byte(canonical))
	return hex.EncodeToString(mac.Sum(nil))
}

// standardAlphabetLink mints links for /files/std.txt until one has a
// signature with '-' or '_', and returns it with those characters in the
// standard base64 alphabet ('+' and '/').
func standardAlphabetLink(t *testing.T, k urlKey, host string) string {
	t.Helper()
	for n := range 200 {
		link := mintURL(t, k, http.MethodGet, host, "/files/std.txt?n="+strconv.Itoa(n), urlExpiresSoon())
		sig := urlParam(link, signedurl.ParamSignature)
		if strings.ContainsAny(sig, "-_") {
			std := strings.NewReplacer("-", "+", "_", "/").Replace(sig)
			return replaceURLPiece(link, signedurl.ParamSignature, signedurl.ParamSignature+"="+std)
		}
	}
	t.Fatal("no signature with '-' or '_' in 200 links")
	return ""
}

func TestSignedURLDenied(t *testing.T) {
	t.Parallel()
	key := newURLKey(t, "k-files")
	second := newURLKey(t, "k-second")
	stray := newURLKey(t, "k-stray") // never configured
	gw, up := startSignedURLGateway(t, key, second)
	host := gw.addr()
	port := strings.TrimPrefix(host, "127.0.0.1:")

	const base = "/files/report.pdf?x=1&y=2"
	link := mintURL(t, key, http.MethodGet, host, base, urlExpiresSoon())
	sig := urlParam(link, signedurl.ParamSignature)
	kidPiece := signedurl.ParamKeyID + "=" + key.ID
	expires := urlParam(link, signedurl.ParamExpires)
	expPiece := signedurl.ParamExpires + "=" + expires
	expiresUnix, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		t.Fatalf("X-Awra-Expires of a minted link = %q, want Unix seconds", expires)
	}
	sigPiece := signedurl.ParamSignature + "=" + sig
	unsigned := base + "&" + kidPiece + "&" + expPiece

	// withExpires returns a link whose X-Awra-Expires value is v and whose
	// signature is correct for it, so only the expiry check can deny it.
	withExpires := func(v string) string {
		return resignURL(t, key, http.MethodGet, host, base+"&"+kidPiece+"&"+signedurl.ParamExpires+"="+v)
	}
	withSignature := func(v string) string {
		return replaceURLPiece(link, signedurl.ParamSignature, signedurl.ParamSignature+"="+v)
	}
	appendPiece := func(piece string) string { return link + "&" + piece }

	tests := []struct {
		name   string
		method string // GET when empty
		host   string // the gateway's address when empty
		target string
		reason string
	}{
		// Missing control parameters.
		{name: "no control parameters", target: base, reason: "url_signature_missing"},
		{name: "no query", target: "/files/report.pdf", reason: "url_signature_missing"},
		{name: "signature missing", target: unsigned, reason: "url_signature_missing"},
		{name: "key id missing", target: replaceURLPiece(link, signedurl.ParamKeyID, ""), reason: "url_signature_missing"},
		{name: "expiry missing", target: replaceURLPiece(link, signedurl.ParamExpires, ""), reason: "url_signature_missing"},
		{name: "lower-case names are not control parameters", target: base + "&x-awra-key-id=" + key.ID + "&x-awra-expires=" + expires + "&x-awra-signature=" + sig, reason: "url_signature_missing"},

		// A control parameter given twice, even with the same value.
		{name: "key id twice", target: appendPiece(kidPiece), reason: "url_parameter_duplicated"},
		{name: "expiry twice", target: appendPiece(expPiece), reason: "url_parameter_duplicated"},
		{name: "signature twice", target: appendPiece(sigPiece), reason: "url_parameter_duplicated"},
		{name: "key id twice with another key", target: appendPiece(signedurl.ParamKeyID + "=" + second.ID), reason: "url_parameter_duplicated"},
		{name: "expiry twice, once with encoded name", target: appendPiece("X-Awra-Expire%73=" + expires), reason: "url_parameter_duplicated"},
		{name: "signature first and last", target: strings.Replace(link, "?", "?"+sigPiece+"&", 1), reason: "url_parameter_duplicated"},

		// Semicolons, which some upstreams treat as separators.
		{name: "semicolon inside the query", target: strings.Replace(link, "x=1", "x=1;admin=1", 1), reason: "url_query_semicolon"},
		{name: "semicolon at the end", target: link + ";", reason: "url_query_semicolon"},
		{name: "semicolon inside the signature", target: withSignature(sig[:20] + ";" + sig[20:]), reason: "url_query_semicolon"},

		// Malformed percent-escapes in the query.
		{name: "escape with non-hex digits", target: strings.Replace(link, "x=1", "x=%zz", 1), reason: "url_escape_malformed"},
		{name: "escape cut short", target: strings.Replace(link, "x=1", "x=%4", 1), reason: "url_escape_malformed"},
		{name: "percent at the end", target: link + "%", reason: "url_escape_malformed"},
		{name: "malformed escape in a name", target: strings.Replace(link, "x=1", "%g1=1", 1), reason: "url_escape_malformed"},
		{name: "malformed escape in the signature", target: withSignature(sig[:42] + "%Z"), reason: "url_escape_malformed"},
		{name: "raw fragment mark before the signed parameters", target: strings.Replace(link, "x=1", "x=1#y", 1), reason: "url_escape_malformed"},

		// Expiries that are not exactly 10 digits as sent, each correctly
		// signed.
		{name: "expiry in milliseconds", target: withExpires(expires + "000"), reason: "url_expires_malformed"},
		{name: "expiry with a leading zero", target: withExpires("0" + expires[1:]), reason: "url_expires_malformed"},
		{name: "expiry with a plus sign", target: withExpires("+" + expires), reason: "url_expires_malformed"},
		{name: "expiry with a plus sign, 10 characters", target: withExpires("+" + expires[1:]), reason: "url_expires_malformed"},
		{name: "expiry with a minus sign", target: withExpires("-" + expires[1:]), reason: "url_expires_malformed"},
		{name: "expiry with a decimal point", target: withExpires(expires + ".0"), reason: "url_expires_malformed"},
		{name: "expiry with a decimal point, 10 characters", target: withExpires(expires[:9] + "."), reason: "url_expires_malformed"},
		{name: "expiry with 9 digits", target: withExpires(expires[:9]), reason: "url_expires_malformed"},
		{name: "expiry percent-encoded", target: withExpires("%3" + expires[:1] + expires[1:]), reason: "url_expires_malformed"},
		{name: "expiry empty", target: withExpires(""), reason: "url_expires_malformed"},

		// Key ids that no key of the route has.
		{name: "key not configured", target: mintURL(t, stray, http.MethodGet, host, base, urlExpiresSoon()), reason: "url_key_unknown"},
		{name: "key id in upper case", target: strings.Replace(link, kidPiece, signedurl.ParamKeyID+"="+strings.ToUpper(key.ID), 1), reason: "url_key_unknown"},
		{name: "key id empty", target: strings.Replace(link, kidPiece, signedurl.ParamKeyID+"=", 1), reason: "url_key_unknown"},

		// A correct link used for another method, host, path or query.
		{name: "GET link sent as POST", method: http.MethodPost, target: link, reason: "url_signature_invalid"},
		{name: "GET link sent as DELETE", method: http.MethodDelete, target: link, reason: "url_signature_invalid"},
		{name: "DELETE link sent as GET", target: mintURL(t, key, http.MethodDelete, host, base, urlExpiresSoon()), reason: "url_signature_invalid"},
		{name: "link for another host", target: mintURL(t, key, http.MethodGet, "files.example.com", base, urlExpiresSoon()), reason: "url_signature_invalid"},
		{name: "link for another port", target: mintURL(t, key, http.MethodGet, "127.0.0.1:1"+port, base, urlExpiresSoon()), reason: "url_signature_invalid"},
		{name: "link sent with another Host", host: "localhost:" + port, target: link, reason: "url_signature_invalid"},
		{name: "link sent without the port", host: "127.0.0.1", target: link, reason: "url_signature_invalid"},
		{name: "another path", target: strings.Replace(link, "report.pdf", "report.pdx", 1), reason: "url_signature_invalid"},
		{name: "path in another case", target: strings.Replace(link, "report.pdf", "Report.pdf", 1), reason: "url_signature_invalid"},
		{name: "trailing slash added", target: strings.Replace(link, "report.pdf", "report.pdf/", 1), reason: "url_signature_invalid"},
		{name: "parameter value changed", target: strings.Replace(link, "x=1", "x=2", 1), reason: "url_signature_invalid"},
		{name: "parameter added", target: appendPiece("admin=1"), reason: "url_signature_invalid"},
		{name: "parameter without value added", target: appendPiece("admin"), reason: "url_signature_invalid"},
		{name: "parameter removed", target: strings.Replace(link, "y=2&", "", 1), reason: "url_signature_invalid"},
		{name: "parameter duplicated", target: appendPiece("x=1"), reason: "url_signature_invalid"},
		{name: "lower-case control name added", target: appendPiece("x-awra-key-id=" + second.ID), reason: "url_signature_invalid"},
		{name: "plus sent as %20", target: strings.Replace(mintURL(t, key, http.MethodGet, host, "/files/report.pdf?q=a+b", urlExpiresSoon()), "q=a+b", "q=a%20b", 1), reason: "url_signature_invalid"},
		{name: "expiry changed", target: strings.Replace(link, expPiece, signedurl.ParamExpires+"="+strconv.FormatInt(expiresUnix-60, 10), 1), reason: "url_signature_invalid"},
		{name: "key id of another configured key", target: strings.Replace(link, kidPiece, signedurl.ParamKeyID+"="+second.ID, 1), reason: "url_signature_invalid"},

		// Signatures in the wrong form.
		{name: "signature truncated", target: withSignature(sig[:42]), reason: "url_signature_invalid"},
		{name: "signature with one more character", target: withSignature(sig + "A"), reason: "url_signature_invalid"},
		{name: "signature padded", target: withSignature(sig + "="), reason: "url_signature_invalid"},
		{name: "signature padded and escaped", target: withSignature(sig + "%3D"), reason: "url_signature_invalid"},
		{name: "signature in hex", target: withSignature(urlMACHex(t, key, host, unsigned)), reason: "url_signature_invalid"},
		{name: "signature upper-cased", target: withSignature(strings.ToUpper(sig)), reason: "url_signature_invalid"},
		{name: "signature with non-zero unused bits", target: withSignature(sameSignatureBits(sig)), reason: "url_signature_invalid"},
		{name: "signature in standard base64", target: standardAlphabetLink(t, key, host), reason: "url_signature_invalid"},
		{name: "signature empty", target: withSignature(""), reason: "url_signature_invalid"},
		{name: "signature of another link", target: withSignature(urlParam(mintURL(t, key, http.MethodGet, host, "/files/other.pdf?x=1&y=2", urlExpiresSoon()), signedurl.ParamSignature)), reason: "url_signature_invalid"},
		{name: "signature made with another key's secret", target: strings.Replace(mintURL(t, second, http.MethodGet, host, base, urlExpiresSoon()), "="+second.ID, "="+key.ID, 1), reason: "url_signature_invalid"},
	}

	var invalidDetail string
	var sentSignatures []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, reqHost := tt.method, tt.host
			if method == "" {
				method = http.MethodGet
			}
			if reqHost == "" {
				reqHost = host
			}
			if s := urlParam(tt.target, signedurl.ParamSignature); len(s) >= 16 {
				sentSignatures = append(sentSignatures, s)
			}

			before := up.count()
			resp := rawURLRequest(t, host, method, reqHost, tt.target, nil)
			request := method + " " + tt.name
			p := checkURLDenied(t, request, resp, up, before, tt.target, tt.reason)

			// The detail of every wrong signature is the same text, so it
			// cannot tell which part of the request did not match.
			if tt.reason == "url_signature_invalid" && p.Reason == tt.reason {
				if invalidDetail == "" {
					invalidDetail = p.Detail
				} else if p.Detail != invalidDetail {
					t.Errorf("%s: detail = %q, want the same detail as every url_signature_invalid, %q", request, p.Detail, invalidDetail)
				}
			}
		})
	}

	t.Run("log holds no signature", func(t *testing.T) {
		log := gw.logText(t)
		for i, s := range sentSignatures {
			if strings.Contains(log, s) {
				t.Errorf("the gateway log contains the signature of denied request %d", i)
			}
		}
	})
}
