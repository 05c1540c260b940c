package awra

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

// A decision announced at its start ends when it is recorded or, without
// a record, when it is released, so Close finds nothing unfinished.
func TestAuditRecorderEndsDecisions(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key) // crypto/rand.Read never returns an error (Go 1.24 and later)
	p, err := audit.Open(audit.Config{SpoolDir: t.TempDir(), ChainKey: key, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("audit.Open() = %v", err)
	}
	var current atomic.Pointer[audit.Pipeline]
	current.Store(p)
	ar := auditRecorder{pipeline: &current, log: logRecorder{logger: zap.NewNop()}}
	r := httptest.NewRequest("GET", "http://api.example.com/api/inventory/items", nil)

	released := startDecision("api_key", r, time.Now(), ar)
	if released.begun != p {
		t.Fatal("startDecision with the audit recorder did not announce the decision")
	}
	released.release()

	recorded := startDecision("api_key", r, time.Now(), ar)
	recorded.reason, recorded.status = policy.ReasonKeyMissing, 401
	ar.record(recorded)
	if recorded.begun != nil {
		t.Fatal("record left the decision announced")
	}
	recorded.release()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	s := p.Stats()
	if s.Enqueued != 1 {
		t.Errorf("Enqueued = %d, want 1", s.Enqueued)
	}
	if s.DroppedClosed != 0 {
		t.Errorf("DroppedClosed = %d, want 0: no decision was unfinished at Close", s.DroppedClosed)
	}
}
