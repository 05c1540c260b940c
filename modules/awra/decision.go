package awra

import (
	"net/netip"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/awra/awragate/policy"
)

// decision is one allow or deny made by an awra handler, with the request
// facts an auditor needs. It never holds a token, secret or signature.
type decision struct {
	module    string // api_key, signed_url, webhook
	allow     bool
	reason    policy.Reason
	status    int
	requestID string
	keyID     string
	clientIP  netip.Addr
	peerIP    netip.Addr
	method    string
	host      string
	path      string
	scopes    string
	provider  string
	eventID   string
	start     time.Time
}

// decisionRecorder carries decisions to where they are kept.
type decisionRecorder interface {
	record(d *decision)
}

// logRecorder writes decisions to the handler's zap logger: denials at
// Info, allows at Debug so that busy gateways do not log every request.
type logRecorder struct {
	logger *zap.Logger
}

func (lr logRecorder) record(d *decision) {
	level := zapcore.InfoLevel
	msg := "request denied"
	if d.allow {
		level = zapcore.DebugLevel
		msg = "request allowed"
	}
	ce := lr.logger.Check(level, msg)
	if ce == nil {
		return
	}
	ce.Write(
		zap.String("module", d.module),
		zap.String("request_id", d.requestID),
		zap.String("reason", string(d.reason)),
		zap.Int("status", d.status),
		zap.String("key_id", d.keyID),
		zap.String("client_ip", addrString(d.clientIP)),
		zap.String("peer_ip", addrString(d.peerIP)),
		zap.String("method", d.method),
		zap.String("host", d.host),
		zap.String("path", d.path),
		zap.String("provider", d.provider),
		zap.Duration("latency", time.Since(d.start)),
	)
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
