package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/awra/awragate/policy/webhook"
)

// DefaultSendTimeout bounds one webhook delivery attempt.
const DefaultSendTimeout = 10 * time.Second

// maxResponseDrain is how much of a receiver's response body is read so
// that the connection can be reused.
const maxResponseDrain = 64 << 10

// WebhookSender posts alerts to one URL, signed the Standard Webhooks way:
// webhook-id is the alert id, webhook-timestamp the time of the attempt
// and webhook-signature "v1," and the base64 HMAC-SHA256 of
// "<id>.<timestamp>.<body>" keyed with the alert secret. It does not
// follow redirects. It is safe for concurrent use.
type WebhookSender struct {
	url     string
	display string // scheme, host and path: never the query or user info
	signer  *webhook.Verifier
	client  *http.Client
}

// NewWebhookSender checks the URL (http or https with a host) and the
// secret ("whsec_" and the base64 of at least 24 bytes) and returns a
// sender whose attempts time out after timeout (zero means
// DefaultSendTimeout). Errors never contain the secret.
func NewWebhookSender(rawURL, secret string, timeout time.Duration) (*WebhookSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid alert webhook URL '%s': use an http or https URL with a host, such as https://siem.example.com/hooks/awra", Redact(rawURL))
	}
	signer, err := webhook.New(webhook.Config{Provider: webhook.ProviderStandard, Secrets: []string{secret}})
	if err != nil {
		return nil, fmt.Errorf("alert webhook secret: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	return &WebhookSender{
		url:     rawURL,
		display: Redact(rawURL),
		signer:  signer,
		client: &http.Client{
			Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// URL returns the webhook URL without its query and user info, for logs.
func (s *WebhookSender) URL() string { return s.display }

// Send makes one delivery attempt of body with message id at now. It
// returns nil for a 2xx response and otherwise an error that names the
// status or the network failure, never the URL's query.
func (s *WebhookSender) Send(ctx context.Context, id string, body []byte, now time.Time) error {
	headers, err := s.signer.Sign(now, id, body)
	if err != nil {
		return fmt.Errorf("signing the alert: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building the alert request: %w", err)
	}
	for name, values := range headers {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "awragate-alerts")

	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error text repeats the whole URL
		}
		return fmt.Errorf("posting to %s: %w", s.display, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseDrain))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("posting to %s: the receiver responded %d", s.display, resp.StatusCode)
	}
	return nil
}

// Redact returns rawURL without its query, fragment and user info, so
// that a token in a webhook URL never reaches a log.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Backoff returns the wait before delivery attempt attempt+1 after
// attempt failed (attempt counts from 1): min doubled per failed attempt
// and capped at max, of which the upper half is scaled by jitter, a
// number in [0, 1). So waits grow exponentially and attempts from many
// gateways spread out instead of arriving together.
func Backoff(attempt int, min, max time.Duration, jitter float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(min) * math.Pow(2, float64(attempt-1))
	if d > float64(max) || math.IsInf(d, 0) {
		d = float64(max)
	}
	jitter = math.Min(math.Max(jitter, 0), 1)
	return time.Duration(d/2 + d/2*jitter)
}
