package awra

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/alert"
	"github.com/awra/awragate/policy/webhook"
)

// reasonReplayStoreUnavailable is the 503 denial sent when the replay
// store cannot be read or written, so a replay cannot be ruled out.
const reasonReplayStoreUnavailable = policy.ReasonReplayStoreUnavailable

const (
	// storeTimeout bounds each store call on the request path. The shared
	// Redis client also times out reads after 500ms.
	storeTimeout = 2 * time.Second

	// storeRetryAfter is the Retry-After, in seconds, of a 503 sent while
	// the replay store is unavailable.
	storeRetryAfter = 10

	// inFlightRetryAfter is the Retry-After, in seconds, sent to a copy of
	// an event that is at the upstream right now.
	inFlightRetryAfter = 5
)

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	now := time.Now()
	d := startDecision("webhook", r, now, h.recorder)
	defer d.release()
	d.provider = h.Provider
	client := d.clientIP

	stripRewriteHeaders(r.Header)
	if p := checkRequestPaths(r, d.path); p != policy.PathOK {
		return h.deny(w, d, policy.ReasonPathAmbiguous, string(p), 0)
	}
	if h.sources != nil && !h.sources.Contains(client) {
		d.eventID = h.verifier.DeliveryID(r.Header)
		h.app.reportBypass(alert.Bypass{
			Module:   "webhook",
			Reason:   policy.ReasonSourceIPNotAllowed,
			KeyID:    "webhook:" + h.Provider,
			ClientIP: client,
			Allowed:  h.sources.Prefixes(),
			At:       now,
		})
		return h.deny(w, d, policy.ReasonSourceIPNotAllowed, "webhooks are not accepted from this address", 0)
	}

	// Read the body before verifying, and never more than max_body, so a
	// sender without the secret cannot make the gateway buffer more.
	body, err := readBody(r, h.maxBody)
	if err != nil {
		d.eventID = h.verifier.DeliveryID(r.Header)
		if errors.Is(err, errBodyTooLarge) {
			return h.deny(w, d, policy.ReasonBodyTooLarge, "the body exceeds this route's limit of "+strconv.FormatInt(h.maxBody, 10)+" bytes", 0)
		}
		h.logger.Debug("reading the webhook body failed", zap.String("request_id", d.id()), zap.Error(err))
		return caddyhttp.Error(http.StatusBadRequest, err)
	}

	res := h.verifier.Verify(now, r.Header, body)
	d.eventID = res.EventID
	if d.eventID == "" {
		d.eventID = h.verifier.DeliveryID(r.Header)
	}
	if !res.OK() {
		return h.deny(w, d, res.Reason, res.Detail, 0)
	}
	d.detail = webhookDetail(d.eventID, res.Timestamp, now)

	keys := h.deliveryKeys(&res, d.id(), now)
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	adm, err := h.store.begin(ctx, now, &keys)
	cancel()
	if err != nil {
		h.storeErrors.log(h.logger, now, "webhook replay store unavailable; rejecting deliveries", err,
			zap.String("provider", h.Provider), zap.String("request_id", d.id()))
		return h.deny(w, d, reasonReplayStoreUnavailable, "the gateway cannot check this delivery for replays right now; retry after the time in Retry-After", storeRetryAfter)
	}
	switch adm {
	case admitReplayed:
		return h.deny(w, d, policy.ReasonWebhookReplayed, "these signed bytes were delivered before; a retry must be signed anew", 0)
	case admitInFlight:
		return h.deny(w, d, policy.ReasonWebhookReplayed, "this event is being delivered right now; retry after the time in Retry-After", inFlightRetryAfter)
	case admitLimitExceeded:
		return h.deny(w, d, policy.ReasonRetryLimitExceeded, "this event has reached the route's limit of "+strconv.Itoa(h.maxDeliveries)+" delivery attempts", 0)
	case admitDuplicate:
		return h.answerDuplicate(w, d)
	}

	forwardBody(r, body)
	stripAwraHeaders(r.Header)
	guardTrailers(r)
	setIdentity(r.Header, h.idHeader, d, "X-Awra-Webhook-Provider", h.Provider)

	// serveAllowed records the decision with the response status after
	// the upstream responded. finish runs first, inside it, and reads the
	// status from the writer that serveAllowed wrapped around w.
	upstream := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		err := next.ServeHTTP(w, r)
		h.finish(r.Context(), &keys, d.sw.status, err, d.id())
		return err
	})
	return serveAllowed(w, r, upstream, d, h.recorder)
}

// deliveryKeys names the store entries of a verified delivery under the
// key prefix of every secret of the route, not only the one that verified
// it. During a rotation a provider signs each delivery with several
// secrets, and a copy that keeps only one of the signatures still finds
// the state that the original left.
func (h *Webhook) deliveryKeys(res *webhook.Result, requestID string, now time.Time) deliveryKeys {
	var replay string
	if !res.ReplayKey.IsZero() {
		replay = res.ReplayKey.String()
	}
	k := newDeliveryKeys(h.keyPrefixes, res.DuplicateKey.String(), replay)
	k.token = requestID
	k.window = h.window
	k.maxDeliveries = h.maxDeliveries
	if replay != "" {
		k.replayTTL = res.ReplayExpires.Add(replayClockSkew).Sub(now)
	}
	return k
}

// finish records the outcome of a forwarded delivery: a 2xx marks the
// event delivered, anything else releases it for the provider's retry.
// status 0 means the handler wrote nothing, for which net/http sends 200.
// finish runs after the client may have gone, so it does not inherit the
// request's cancellation.
func (h *Webhook) finish(reqCtx context.Context, k *deliveryKeys, status int, handlerErr error, requestID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), storeTimeout)
	defer cancel()
	now := time.Now()

	if status == 0 {
		status = http.StatusOK
	}
	if handlerErr == nil && status >= 200 && status < 300 {
		if err := h.store.delivered(ctx, now, k); err != nil {
			h.storeErrors.log(h.logger, now, "marking a webhook event delivered failed; a provider retry will be forwarded again", err,
				zap.String("provider", h.Provider), zap.String("request_id", requestID))
		}
		return
	}
	if err := h.store.release(ctx, now, k); err != nil {
		h.storeErrors.log(h.logger, now, "releasing a failed webhook delivery failed; provider retries wait for the in-flight marker to expire", err,
			zap.String("provider", h.Provider), zap.String("request_id", requestID), zap.Duration("in_flight_ttl", inFlightTTL))
	}
}

func (h *Webhook) deny(w http.ResponseWriter, d *decision, reason policy.Reason, detail string, retryAfter int) error {
	d.reason = reason
	d.status = reason.Status()
	if reason == reasonReplayStoreUnavailable {
		d.status = http.StatusServiceUnavailable
	}
	h.recorder.record(d)
	writeProblem(w, reason, d.status, detail, d.id(), retryAfter)
	return nil
}

// answerDuplicate responds 200 to an event that was already delivered, so
// that the provider stops retrying it.
func (h *Webhook) answerDuplicate(w http.ResponseWriter, d *decision) error {
	d.allow = true
	d.reason = policy.ReasonWebhookDuplicate
	d.status = http.StatusOK
	h.recorder.record(d)

	body := []byte(`{"status":"duplicate","request_id":"` + d.id() + `"}`)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// webhookDetail is the audit detail of a verified delivery: the provider's
// event id and, for schemes that sign a timestamp, the delay from that
// timestamp to arrival in milliseconds, which the security review reports.
func webhookDetail(eventID string, signedAt, now time.Time) string {
	var parts []string
	if eventID != "" {
		parts = append(parts, "event_id="+eventID)
	}
	if !signedAt.IsZero() {
		parts = append(parts, "signed_delay_ms="+strconv.FormatInt(now.Sub(signedAt).Milliseconds(), 10))
	}
	return strings.Join(parts, " ")
}
