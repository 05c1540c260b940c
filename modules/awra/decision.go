package awra

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
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
	eventID   string // provider's event or delivery id, for webhooks
	detail    string // extra audit text; never a secret
	start     time.Time
	latency   time.Duration // time spent deciding; 0 means measure at record time

	// sw wraps the response writer of an allowed request. It lives in the
	// decision, which is on the heap already, to save an allocation.
	sw statusWriter

	// begun is the audit pipeline that counts this decision as unfinished
	// until it is recorded or released; see beginner.
	begun *audit.Pipeline
}

// decisions is the pool of decision records. A handler takes one per
// request and returns it after recording the decision, which saves a
// 320-byte allocation with pointers on every request.
var decisions = sync.Pool{New: func() any { return new(decision) }}

// startDecision takes a record from the pool and fills in the request
// facts every module records: client and peer addresses, method, host and
// path, and announces it to rec when rec is a beginner. The caller must
// call release after recording the decision and after the next handler
// has returned.
func startDecision(module string, r *http.Request, now time.Time, rec decisionRecorder) *decision {
	client, peer := clientAddr(r)
	d := decisions.Get().(*decision)
	*d = decision{
		module:   module,
		clientIP: client,
		peerIP:   peer,
		method:   r.Method,
		host:     r.Host,
		path:     requestPath(r),
		start:    now,
	}
	if b, ok := rec.(beginner); ok {
		b.begin(d)
	}
	return d
}

// release clears d, so that the pool holds no request data or response
// writer, and returns it to the pool. A decision that was announced and
// never recorded ends there.
func (d *decision) release() {
	if d.begun != nil {
		d.begun.Abandon()
	}
	*d = decision{}
	decisions.Put(d)
}

// id returns the decision's request id, made on first use: an allowed
// request that nothing logs, audits or forwards the id of needs none.
func (d *decision) id() string {
	if d.requestID == "" {
		d.requestID = newRequestID()
	}
	return d.requestID
}

// decisionRecorder carries decisions to where they are kept.
type decisionRecorder interface {
	record(d *decision)
}

// beginner is a decisionRecorder that must know of a decision from its
// start. The audit recorder is one, because a handler records an allowed
// request only after the upstream responded. If the audit pipeline closes
// before that, for example when Caddy's grace period runs out, the
// pipeline declares the decision dropped instead of losing it silently.
type beginner interface {
	begin(d *decision)
}

// logRecorder writes decisions to the handler's zap logger: denials at
// Info, allows at Debug so that busy gateways do not log every request.
type logRecorder struct {
	logger *zap.Logger
}

func (lr logRecorder) record(d *decision) {
	countDecision(d)
	level := zapcore.InfoLevel
	if d.allow {
		level = zapcore.DebugLevel
	}
	lr.recordAt(d, level)
}

// recordAt logs a decision at the given level.
func (lr logRecorder) recordAt(d *decision, level zapcore.Level) {
	msg := "request denied"
	if d.allow {
		msg = "request allowed"
	}
	ce := lr.logger.Check(level, msg)
	if ce == nil {
		return
	}
	ce.Write(
		zap.String("module", d.module),
		zap.String("request_id", d.id()),
		zap.String("reason", string(d.reason)),
		zap.Int("status", d.status),
		zap.String("key_id", d.keyID),
		zap.String("client_ip", addrString(d.clientIP)),
		zap.String("peer_ip", addrString(d.peerIP)),
		zap.String("method", d.method),
		zap.String("host", d.host),
		zap.String("path", d.path),
		zap.String("provider", d.provider),
		zap.String("event_id", d.eventID),
		zap.Duration("latency", d.decisionLatency()),
	)
}

// decisionLatency is the time the handler spent deciding, without the time
// the upstream took to respond to an allowed request.
func (d *decision) decisionLatency() time.Duration {
	if d.latency > 0 {
		return d.latency
	}
	return time.Since(d.start)
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// statusWriter remembers the status of the response written through it,
// so an allow can be recorded with the status the client received.
type statusWriter struct {
	caddyhttp.ResponseWriterWrapper
	status int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 && code >= 200 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriter.Write(b)
}

// ReadFrom records 200 for a body copied without WriteHeader, because the
// wrapped writer's ReadFrom would bypass Write.
func (sw *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriterWrapper.ReadFrom(r)
}

// wrap returns w wrapped to remember the response status in d.sw.
func (d *decision) wrap(w http.ResponseWriter) *statusWriter {
	d.sw = statusWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	return &d.sw
}

// serveAllowed passes an allowed request on and then records the decision
// with the status of the response, or of the error the next handler
// returned (a 502 from reverse_proxy when the upstream is down).
func serveAllowed(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, d *decision, rec decisionRecorder) error {
	d.allow = true
	d.latency = time.Since(d.start)

	sw := d.wrap(w)
	err := next.ServeHTTP(sw, r)

	d.status = sw.status
	if err != nil {
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			d.status = he.StatusCode
		} else if d.status == 0 {
			d.status = http.StatusInternalServerError
		}
	}
	rec.record(d)
	return err
}
