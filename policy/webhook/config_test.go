package webhook

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsUnsafeConfig(t *testing.T) {
	raw := rawSecret(t)
	shortStandard := "whsec_" + base64.StdEncoding.EncodeToString(randomBytes(t, 23))
	unpadded := "whsec_" + base64.RawStdEncoding.EncodeToString(randomBytes(t, 32))
	urlAlphabet := "whsec_" + base64.URLEncoding.EncodeToString(append([]byte{0xfb, 0xff}, randomBytes(t, 31)...))
	newline := "whsec_" + base64.StdEncoding.EncodeToString(randomBytes(t, 32))
	newline = newline[:20] + "\n" + newline[20:]
	withHMAC := func(o HMACOptions) Config { return Config{Provider: ProviderHMAC, Secrets: []string{raw}, HMAC: o} }
	opts := func(edit func(*HMACOptions)) HMACOptions {
		o := genericOptions
		edit(&o)
		return o
	}

	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"unknown provider", Config{Provider: "gitlab", Secrets: []string{raw}}, "unknown webhook provider 'gitlab'"},
		{"empty provider", Config{Secrets: []string{raw}}, "unknown webhook provider ''"},
		{"provider in upper case", Config{Provider: "GitHub", Secrets: []string{raw}}, "unknown webhook provider 'GitHub'"},
		{"no secret", Config{Provider: ProviderGitHub}, "no secret is configured"},
		{"empty secret", Config{Provider: ProviderPaystack, Secrets: []string{""}}, "secret 1 is empty"},
		{"second secret empty", Config{Provider: ProviderShopify, Secrets: []string{raw, ""}}, "secret 2 is empty"},
		{"trailing newline", Config{Provider: ProviderSlack, Secrets: []string{raw + "\n"}}, "secret 1 has leading or trailing whitespace"},
		{"too many secrets", Config{Provider: ProviderGitHub, Secrets: []string{raw, raw, raw, raw, raw}}, "5 secrets are configured"},
		{"stripe without prefix", Config{Provider: ProviderStripe, Secrets: []string{raw}}, "secret 1 is not a Stripe endpoint signing secret"},
		{"stripe prefix only", Config{Provider: ProviderStripe, Secrets: []string{"whsec_"}}, "secret 1 is not a Stripe endpoint signing secret"},
		{"stripe api key", Config{Provider: ProviderStripe, Secrets: []string{"sk_test_" + raw}}, "not an API key"},
		{"standard without prefix", Config{Provider: ProviderStandard, Secrets: []string{base64.StdEncoding.EncodeToString(randomBytes(t, 32))}}, "secret 1 is not a Standard Webhooks secret"},
		{"standard 23 bytes", Config{Provider: ProviderStandard, Secrets: []string{shortStandard}}, "at least 24 bytes"},
		{"standard without padding", Config{Provider: ProviderStandard, Secrets: []string{unpadded}}, "secret 1 is not a Standard Webhooks secret"},
		{"standard url alphabet", Config{Provider: ProviderStandard, Secrets: []string{urlAlphabet}}, "secret 1 is not a Standard Webhooks secret"},
		{"standard embedded newline", Config{Provider: ProviderStandard, Secrets: []string{newline}}, "secret 1 is not a Standard Webhooks secret"},
		{"standard raw secret", Config{Provider: ProviderStandard, Secrets: []string{raw}}, "secret 1 is not a Standard Webhooks secret"},
		{"negative tolerance", Config{Provider: ProviderStripe, Secrets: []string{stripeSecret(t)}, Tolerance: -time.Second}, "invalid webhook tolerance '-1s'"},
		{"tolerance below a second", Config{Provider: ProviderStripe, Secrets: []string{stripeSecret(t)}, Tolerance: time.Millisecond}, "invalid webhook tolerance '1ms'"},
		{"tolerance above an hour", Config{Provider: ProviderSlack, Secrets: []string{raw}, Tolerance: 2 * time.Hour}, "invalid webhook tolerance '2h0m0s'"},
		{"hmac options on github", Config{Provider: ProviderGitHub, Secrets: []string{raw}, HMAC: genericOptions}, "apply only to provider 'hmac'"},
		{"hmac without options", withHMAC(HMACOptions{}), "hmac header is missing"},
		{"hmac without header", withHMAC(opts(func(o *HMACOptions) { o.Header = "" })), "hmac header is missing"},
		{"hmac header with space", withHMAC(opts(func(o *HMACOptions) { o.Header = "X Sig" })), "invalid header name 'X Sig'"},
		{"hmac header with colon", withHMAC(opts(func(o *HMACOptions) { o.Header = "X-Sig:" })), "invalid header name 'X-Sig:'"},
		{"hmac same header twice", withHMAC(opts(func(o *HMACOptions) { o.TimestampHeader = "x-signature" })), "is configured twice"},
		{"hmac without algorithm", withHMAC(opts(func(o *HMACOptions) { o.Algorithm = "" })), "invalid hmac algorithm ''"},
		{"hmac md5", withHMAC(opts(func(o *HMACOptions) { o.Algorithm = "md5" })), "invalid hmac algorithm 'md5'"},
		{"hmac algorithm upper case", withHMAC(opts(func(o *HMACOptions) { o.Algorithm = "SHA256" })), "invalid hmac algorithm 'SHA256'"},
		{"hmac without encoding", withHMAC(opts(func(o *HMACOptions) { o.Encoding = "" })), "invalid hmac encoding ''"},
		{"hmac base64url", withHMAC(opts(func(o *HMACOptions) { o.Encoding = "base64url" })), "invalid hmac encoding 'base64url'"},
		{"hmac prefix with space", withHMAC(opts(func(o *HMACOptions) { o.Prefix = "sha 256=" })), "invalid hmac prefix"},
		{"hmac prefix too long", withHMAC(opts(func(o *HMACOptions) { o.Prefix = strings.Repeat("p", 33) })), "invalid hmac prefix"},
		{"hmac timestamp without template", withHMAC(opts(func(o *HMACOptions) { o.Template, o.IDHeader = "", "" })), "hmac template is missing"},
		{"hmac template without body", withHMAC(opts(func(o *HMACOptions) { o.Template = "{id}:{timestamp}" })), "must contain {body} exactly once"},
		{"hmac template with body twice", withHMAC(opts(func(o *HMACOptions) { o.Template = "{id}:{timestamp}.{body}{body}" })), "must contain {body} exactly once"},
		{"hmac unsigned timestamp", withHMAC(opts(func(o *HMACOptions) { o.Template = "{id}:{body}" })), "must contain {timestamp} exactly once"},
		{"hmac unsigned id", withHMAC(opts(func(o *HMACOptions) { o.Template = "{timestamp}.{body}" })), "must contain {id} exactly once"},
		{"hmac timestamp twice", withHMAC(opts(func(o *HMACOptions) { o.Template = "{id}:{timestamp}.{timestamp}.{body}" })), "must contain {timestamp} exactly once"},
		{"hmac timestamp placeholder without header", withHMAC(opts(func(o *HMACOptions) { o.TimestampHeader = "" })), "contains {timestamp} but no timestamp header is set"},
		{"hmac id placeholder without header", withHMAC(opts(func(o *HMACOptions) { o.IDHeader = "" })), "contains {id} but no id header is set"},
		{"hmac id next to body", withHMAC(opts(func(o *HMACOptions) { o.Template = "{timestamp}.{id}{body}" })), "{id} right next to another placeholder"},
		{"hmac id next to timestamp", withHMAC(opts(func(o *HMACOptions) { o.Template = "{id}{timestamp}.{body}" })), "{id} right next to another placeholder"},
		{"hmac unknown placeholder", withHMAC(opts(func(o *HMACOptions) { o.Template = "{id}:{ts}.{timestamp}{body}" })), "unknown placeholder '{ts}'"},
		{"hmac unclosed brace", withHMAC(opts(func(o *HMACOptions) { o.Template = "{id}:{timestamp}.{body" })), "'{' without '}'"},
		{"hmac stray closing brace", withHMAC(opts(func(o *HMACOptions) { o.Template = "{id}:{timestamp}}.{body}" })), "'}' without '{'"},
		{"hmac long template", withHMAC(opts(func(o *HMACOptions) { o.Template = "{id}:{timestamp}.{body}" + strings.Repeat("x", 250) })), "use at most 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("New() = %v, nil error, want error containing %q", v, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New() error = %q, want it to contain %q", err, tt.wantErr)
			}
			for i, s := range tt.cfg.Secrets {
				if len(s) > 6 && strings.Contains(err.Error(), strings.TrimSpace(s)[6:]) {
					t.Errorf("New() error contains secret %d", i+1)
				}
			}
			if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("New() error %q does not start in lower case", msg)
			}
		})
	}
}

func TestNewAcceptsConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		tol  time.Duration
	}{
		{"default tolerance", Config{Provider: ProviderSlack, Secrets: []string{"s"}}, DefaultTolerance},
		{"one second tolerance", Config{Provider: ProviderSlack, Secrets: []string{"s"}, Tolerance: time.Second}, time.Second},
		{"one hour tolerance", Config{Provider: ProviderSlack, Secrets: []string{"s"}, Tolerance: time.Hour}, time.Hour},
		{"four secrets", Config{Provider: ProviderGitHub, Secrets: []string{"a", "b", "c", "d"}}, DefaultTolerance},
		{"standard 24-byte secret", Config{Provider: ProviderStandard, Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, DefaultTolerance},
		{"stripe secret", Config{Provider: ProviderStripe, Secrets: []string{"whsec_x"}}, DefaultTolerance},
		{"hmac body only", Config{Provider: ProviderHMAC, Secrets: []string{"s"}, HMAC: genericBase64Options}, DefaultTolerance},
		{"hmac template with literals", Config{Provider: ProviderHMAC, Secrets: []string{"s"}, HMAC: HMACOptions{
			Header: "X-Sig", Algorithm: "sha512", Encoding: "hex", TimestampHeader: "X-Time", Template: "POST\n{timestamp}\n{body}",
		}}, DefaultTolerance},
		{"hmac timestamp right before body", Config{Provider: ProviderHMAC, Secrets: []string{"s"}, HMAC: HMACOptions{
			Header: "X-Sig", Algorithm: "sha256", Encoding: "base64", TimestampHeader: "X-Time", Template: "{timestamp}{body}",
		}}, DefaultTolerance},
		{"hmac id last", Config{Provider: ProviderHMAC, Secrets: []string{"s"}, HMAC: HMACOptions{
			Header: "X-Sig", Algorithm: "sha256", Encoding: "hex", IDHeader: "X-Id", Template: "{body}|{id}",
		}}, DefaultTolerance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg)
			if err != nil {
				t.Fatalf("New() error: %v", err)
			}
			if v.Tolerance() != tt.tol {
				t.Errorf("Tolerance() = %v, want %v", v.Tolerance(), tt.tol)
			}
			if v.Provider() != tt.cfg.Provider {
				t.Errorf("Provider() = %q, want %q", v.Provider(), tt.cfg.Provider)
			}
		})
	}
}

func TestProvidersAllBuild(t *testing.T) {
	for _, p := range Providers() {
		cfg := Config{Provider: p, Secrets: []string{secretFor(t, p)}}
		if p == ProviderHMAC {
			cfg.HMAC = genericBase64Options
		}
		if _, err := New(cfg); err != nil {
			t.Errorf("New(%q) error: %v", p, err)
		}
	}
}
