package audit

import (
	"sync"
	"time"

	"github.com/awra/awragate/policy"
)

// SchemaVersion is the value of the "v" field of every event this package
// writes.
const SchemaVersion = 1

// Module names the component that made a decision.
type Module string

// Modules that write audit events.
const (
	ModuleAPIKey    Module = "api_key"
	ModuleSignedURL Module = "signed_url"
	ModuleWebhook   Module = "webhook"
	ModuleAlert     Module = "alert"
	ModuleAdmin     Module = "admin"
	ModuleAudit     Module = "audit"

	// ModuleUnknown is stored for an event enqueued without a module.
	ModuleUnknown Module = "unknown"
)

// Decision is the outcome recorded by an event.
type Decision string

// Decisions.
const (
	DecisionAllow Decision = "allow"
	DecisionDeny  Decision = "deny"
)

// Reason codes of the events the pipeline writes about itself (module
// "audit"). They are written with decision "deny" so that a consumer that
// filters for denials also receives every report of lost audit data.
const (
	// ReasonEventsDropped marks a gap event: the queue was full (by count
	// or by bytes), a spool write failed, or the pipeline closed while
	// decisions announced by Begin were unfinished, and events were lost
	// before they got a seq. Its detail is
	// "dropped=N queue_full=N queue_bytes=N spool_error=N closed=N".
	ReasonEventsDropped policy.Reason = "events_dropped"

	// ReasonEventsLost marks events that had a seq and were lost from the
	// stream: Redis lost them (a failover or restart without persistence)
	// after the spool had already deleted them. Its detail is "lost=A-B",
	// the inclusive seq range of its own instance that Verify may then find
	// missing.
	ReasonEventsLost policy.Reason = "events_lost"

	// ReasonUncleanRestart is written when the spool was not closed by the
	// previous run (a crash or a kill). Events still queued in memory at
	// that moment are lost and were never counted; spooled events are kept.
	ReasonUncleanRestart policy.Reason = "unclean_restart"

	// ReasonSpoolReset is written as the first event of a new chain when the
	// spool file could not be read and was moved aside. Unpublished events
	// in the old file are not in the stream.
	ReasonSpoolReset policy.Reason = "spool_reset"
)

// Event is one audit record: a decision of a handler, an administrative
// change or a note of the pipeline itself.
//
// Handlers fill the request fields (TS, RequestID, Module, Decision,
// Reason, Status, KeyID, ClientIP, PeerIP, Method, Host, Path, Scopes,
// Provider, LatencyUS, Detail). The pipeline's writer fills V, Instance,
// Seq, PrevHash and Hash, and sets TS to the pipeline clock when it is
// zero. Before hashing, the writer also replaces invalid UTF-8 with
// U+FFFD, stores a decision other than allow or deny as deny (noting the
// original in Detail) and an empty module as "unknown". In the stream every
// field is a flat string; see [Event.Fields].
type Event struct {
	V         int           // schema version, SchemaVersion
	TS        time.Time     // decision time, written as RFC 3339 UTC with nanoseconds
	Instance  string        // chain owner: gateway instance and spool epoch
	Seq       uint64        // position in the instance chain, from 1, gap-free
	RequestID string        // the gateway's request id (X-Awra-Request-Id), empty for non-request events
	Module    Module        // component that decided
	Decision  Decision      // allow or deny
	Reason    policy.Reason // reason code, empty for an allow without a note
	Status    int           // HTTP status sent to the client, 0 when none
	KeyID     string        // API key or signing key id, empty when unknown
	ClientIP  string        // Caddy's resolved client IP
	PeerIP    string        // address of the TCP peer
	Method    string        // HTTP method
	Host      string        // request host
	Path      string        // request path without the query
	Scopes    string        // scopes, space-separated
	Provider  string        // webhook provider name
	LatencyUS int64         // decision latency in microseconds
	Detail    string        // free text, e.g. "dropped=12" or "key created"
	PrevHash  string        // Hash of the previous event of the instance, "" for seq 1
	Hash      string        // hex HMAC-SHA256 chain link, see ComputeHash

	queuedSize int64 // approxSize charged to the queue's byte budget
}

// eventOverhead approximates the memory of an Event beyond its strings:
// the struct itself and the queue slot.
const eventOverhead = 256

// approxSize returns an estimate of the memory an event holds while it is
// queued, in bytes. It is cheap enough for the hot path.
func (e *Event) approxSize() int64 {
	n := eventOverhead + len(e.Instance) + len(e.RequestID) + len(e.Module) +
		len(e.Decision) + len(e.Reason) + len(e.KeyID) + len(e.ClientIP) +
		len(e.PeerIP) + len(e.Method) + len(e.Host) + len(e.Path) +
		len(e.Scopes) + len(e.Provider) + len(e.Detail) + len(e.PrevHash) + len(e.Hash)
	return int64(n)
}

// eventPool recycles events the writer has committed.
var eventPool = sync.Pool{New: func() any { return new(Event) }}

// NewEvent returns a zero Event, reused from one the writer has finished
// with when possible, which spares the request path most of the cost of
// allocating it. Events made any other way work as well. Either way, an
// event handed to Enqueue must not be touched once Enqueue returns true.
func NewEvent() *Event {
	return eventPool.Get().(*Event)
}

// releaseEvent clears ev and returns it to the pool.
func releaseEvent(ev *Event) {
	*ev = Event{}
	eventPool.Put(ev)
}
