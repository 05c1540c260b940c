// Package fleet keeps the state that every gateway instance shares
// through Redis: the fleet key registry (keys_store redis), key
// quarantines and the pub/sub events that tell instances about changes.
//
// # Redis layout
//
//	awra:keys                    hash: key id -> {"rev":N,"record":{...}}, the
//	                             key record as in a keys file (token hashes only)
//	awra:keys:rev                counter: the registry revision, raised by every edit
//	awra:keys:events             channel: {"v":1,"op":"key","key_id":ID,"rev":N,"status":S}
//	awra:quarantine              hash: key id -> quarantine record (JSON)
//	awra:quarantine:count:{ID}   sorted set: recent bypass denials of a key,
//	                             expires after the quarantine window
//	awra:quarantine:events       channel: {"v":1,"op":"quarantine"|"lift","key_id":ID}
//
// The registry hash and the quarantine hash have no expiry: their size is
// bounded by the number of keys. Every edit of a key goes through one Lua
// script that checks the record has not changed since it was read,
// raises the revision, stores the record and publishes the event, so
// edits from several hosts never overwrite each other.
//
// Instances keep a Cache of the registry. An event for a revoked or
// suspended key overwrites the cached record's status at once, without a
// Redis read; other events fetch the record. A record only ever replaces
// an older revision, so a read that started before an edit can never bring
// the old record back. A full snapshot, taken when the revision counter
// moved, covers events that pub/sub lost.
//
// The package imports nothing from Caddy and takes the current time as a
// parameter.
package fleet

// Redis names of the fleet state. They are fixed so that every instance
// and the keys command agree without configuration.
const (
	KeysHash          = "awra:keys"
	KeysRevKey        = "awra:keys:rev"
	KeysChannel       = "awra:keys:events"
	QuarantineHash    = "awra:quarantine"
	QuarantineCount   = "awra:quarantine:count:"
	QuarantineChannel = "awra:quarantine:events"
)
