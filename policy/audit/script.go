package audit

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// publishLua adds a batch of one instance's events to the stream, skipping
// those already there, in one atomic step. Redis keeps the highest seq of
// each instance in the watermark hash, changed only by this script and in
// the same step as the entries it covers. So a replica or a restarted
// server that lost entries also lost the matching watermark.
//
// KEYS[1] is the stream and KEYS[2] the watermark hash. ARGV holds the
// instance, MAXLEN, the floor (the lowest watermark the publisher expects;
// a lower one means Redis lost entries, and the script then changes
// nothing and returns status -1), the number of ARGV items per event, the
// offset of the seq value within an event's items, and then each event as
// field name, value, field name, value, ... in seq order.
//
// It returns {status, entries added, watermark}; the watermark is a string
// so that seqs above 2^53 are not rounded, although comparisons in Lua use
// doubles and are exact only up to 2^53.
const publishLua = `
local wm = redis.call('HGET', KEYS[2], ARGV[1]) or '0'
local wmNum = tonumber(wm)
if wmNum < tonumber(ARGV[3]) then
  return {-1, 0, wm}
end
local width = tonumber(ARGV[4])
local seqAt = tonumber(ARGV[5])
local added = 0
local i = 6
while i + width - 1 <= #ARGV do
  local seq = ARGV[i + seqAt]
  if tonumber(seq) > wmNum then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, i, i + width - 1))
    wm = seq
    wmNum = tonumber(seq)
    added = added + 1
  end
  i = i + width
end
if added > 0 then
  redis.call('HSET', KEYS[2], ARGV[1], wm)
end
return {0, added, wm}
`

var publishScript = redis.NewScript(publishLua)

// fieldNameArgs holds FieldNames already converted to interface values, so
// that building a batch does not allocate for the names.
var fieldNameArgs = func() (out [numFields]interface{}) {
	for i, name := range FieldNames {
		out[i] = name
	}
	return out
}()

// publishResult is the reply of publishLua.
type publishResult struct {
	behind    bool   // Redis's watermark is below the floor: it lost entries
	added     int    // entries added to the stream
	watermark uint64 // Redis's watermark after the call
}

// sendBatch runs publishLua for batch with EVALSHA, falling back to EVAL
// when Redis does not have the script cached.
func (p *Pipeline) sendBatch(ctx context.Context, batch []spooledEvent, floor uint64) (publishResult, error) {
	const width = 2 * numFields
	args := make([]interface{}, 0, 5+len(batch)*width)
	args = append(args, p.instance, p.cfg.MaxLen, floor, width, 2*fieldSeq+1)
	// Values go in as *string: a string in an interface would be copied to
	// the heap, one allocation per field. The batch outlives the call.
	for i := range batch {
		values := &batch[i].values
		for f := range values {
			args = append(args, fieldNameArgs[f], &values[f])
		}
	}

	reply, err := publishScript.Run(ctx, p.client, []string{p.stream, p.watermark}, args...).Slice()
	if err != nil {
		return publishResult{}, err
	}
	return parsePublishReply(reply)
}

func parsePublishReply(reply []interface{}) (publishResult, error) {
	if len(reply) != 3 {
		return publishResult{}, fmt.Errorf("publish script returned %d values, expected 3", len(reply))
	}
	status, ok1 := reply[0].(int64)
	added, ok2 := reply[1].(int64)
	wm, ok3 := reply[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return publishResult{}, fmt.Errorf("publish script returned %v, expected {status, added, watermark}", reply)
	}
	watermark, err := strconv.ParseUint(wm, 10, 64)
	if err != nil {
		return publishResult{}, fmt.Errorf("publish script returned watermark '%s': %w", truncate(wm), err)
	}
	return publishResult{behind: status == -1, added: int(added), watermark: watermark}, nil
}
