// Package audit carries awragate's audit events from the request path to a
// Redis stream and checks their hash chains.
//
// # Delivery
//
// A handler fills an [Event] and calls [Pipeline.Enqueue], which never
// blocks and does no I/O: it puts the event in a queue bounded by count and
// by bytes, or drops it and counts the drop. A handler that records its
// decision only at the end of a request announces it first with
// [Pipeline.Begin] and hands the event over with [Pipeline.Finish], so
// that Close can declare decisions that never arrive. One writer goroutine takes
// batches from the queue, gives each event the next seq of this instance
// and its chain link, and commits the batch to a bbolt spool file in one
// transaction, at most one per Config.CommitInterval (bbolt syncs twice per
// commit). Events are stored packed as the publish script reads them, a
// few to a bbolt value. One publisher goroutine sends spooled
// events to the stream in seq order, up to Config.BatchSize per round trip,
// through a Lua script that adds only seqs above the instance's watermark
// and moves the watermark in the same atomic step. A batch sent twice, after
// a timeout, reconnect or restart, therefore never adds an entry twice.
//
// Published events stay in the spool for Config.Retention. When Redis
// reports a watermark below what was published (a failover or a restart
// that lost writes), the publisher rewinds and sends the lost entries again
// from the spool; entries older than the retention window are declared by
// an events_lost event instead.
//
// Loss is never silent. Queue drops are followed by an events_dropped gap
// event with the count. Opening a spool that was not closed writes an
// unclean_restart event. A spool file that cannot be read is renamed to
// audit.db.corrupt-<UTC time> and a new chain starts with a spool_reset
// event.
//
// # Chains
//
// Each spool file owns one chain, named by its instance id: the configured
// or default instance name plus a random epoch chosen when the file is
// created. Seqs start at 1 and have no gaps. The first event has an empty
// prev_hash; every later event's prev_hash is the hash of the event before.
// hash = hex(HMAC-SHA256(chain_key, prev_hash || canonical form)); see
// [Event.Canonical] and [ComputeHash]. A new spool (first start, or after a
// corrupt file) gets a new epoch, so it starts a new chain at seq 1 that
// Verify checks on its own; it never continues or collides with the old one.
//
// # Reading
//
// [ReadStream], [Export] and [ReadJSONLines] read entries back, and
// [Verifier] (or [Verify]) checks every chain in them.
package audit
