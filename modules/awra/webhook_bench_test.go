package awra

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// admittingStore admits every delivery, so a benchmark measures the
// handler without the cost of a store.
type admittingStore struct{}

func (admittingStore) begin(context.Context, time.Time, *deliveryKeys) (admission, error) {
	return admitForward, nil
}
func (admittingStore) delivered(context.Context, time.Time, *deliveryKeys) error { return nil }
func (admittingStore) release(context.Context, time.Time, *deliveryKeys) error   { return nil }

var okHandler = caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
})

// benchmarkWebhook sends the same signed 1 KiB paystack delivery b.N times.
func benchmarkWebhook(b *testing.B, store deliveryStore) {
	h := &Webhook{Provider: "paystack", Secrets: []string{testPaystackSecret}}
	h.logger = zap.NewNop()
	if err := h.compile(); err != nil {
		b.Fatal(err)
	}
	h.recorder = discardRecorder{}
	h.store = store

	body := bytes.Repeat([]byte(`{"k":"v"},`), 100)
	sig, err := h.verifier.Sign(time.Now(), "", body)
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/hooks/paystack", nil)
	for name, values := range sig {
		r.Header[name] = values
	}
	w := httptest.NewRecorder()

	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if err := h.ServeHTTP(w, r, okHandler); err != nil {
			b.Fatal(err)
		}
	}
}

type discardRecorder struct{}

func (discardRecorder) record(*decision) {}

// BenchmarkWebhookForward measures a forwarded delivery without a store:
// body read, signature check, header work and the status wrappers.
func BenchmarkWebhookForward(b *testing.B) {
	benchmarkWebhook(b, admittingStore{})
}

// BenchmarkWebhookDuplicate measures a duplicate recognised by the
// in-process store and rejected without forwarding.
func BenchmarkWebhookDuplicate(b *testing.B) {
	store := newMemoryDeliveryStore(defaultMemoryStoreEntries)
	benchmarkWebhook(b, store)
}

// benchKeyPrefixes are the key prefixes of a route with one secret.
var benchKeyPrefixes = []string{"bench:"}

// BenchmarkMemoryDeliveryStore measures begin and delivered of new events,
// with a virtual clock that lets the sweep keep the store small.
func BenchmarkMemoryDeliveryStore(b *testing.B) {
	s := newMemoryDeliveryStore(defaultMemoryStoreEntries)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		n := strconv.Itoa(i)
		k := newDeliveryKeys(benchKeyPrefixes, n, n)
		k.replayTTL, k.token, k.window, k.maxDeliveries = time.Second, n, time.Second, 10
		now = now.Add(time.Millisecond)
		if _, err := s.begin(ctx, now, &k); err != nil {
			b.Fatal(err)
		}
		if err := s.delivered(ctx, now, &k); err != nil {
			b.Fatal(err)
		}
	}
}
