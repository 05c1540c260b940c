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
// nothing and returns status -1), the field names as a MessagePack array,
// the position of seq among them (counted from 1), and the events as a
// packed batch (see pack.go) in seq order.
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
local names = cmsgpack.unpack(ARGV[4])
local seqAt = tonumber(ARGV[5])
local events = cmsgpack.unpack(ARGV[6])
local args = {'MAXLEN', '~', ARGV[2], '*'}
for f = 1, #names do
  args[3 + 2 * f] = names[f]
end
local added = 0
for _, values in ipairs(events) do
  if #values ~= #names then
    return redis.error_reply('audit event has ' .. #values .. ' fields, expected ' .. #names)
  end
  local seq = values[seqAt]
  if tonumber(seq) > wmNum then
    for f = 1, #names do
      args[4 + 2 * f] = values[f]
    end
    redis.call('XADD', KEYS[1], unpack(args))
    wm = seq
    wmNum = tonumber(seq)
    added = added + 1
  end
end
if added > 0 then
  redis.call('HSET', KEYS[2], ARGV[1], wm)
end
return {0, added, wm}
`

var publishScript = redis.NewScript(publishLua)

// publishResult is the reply of publishLua.
type publishResult struct {
	behind    bool   // Redis's watermark is below the floor: it lost entries
	added     int    // entries added to the stream
	watermark uint64 // Redis's watermark after the call
}

// sendBatch runs publishLua for the packed batch pb with EVALSHA, falling
// back to EVAL when Redis does not have the script cached.
func (p *Pipeline) sendBatch(ctx context.Context, pb *packedBatch, floor uint64) (publishResult, error) {
	reply, err := publishScript.Run(ctx, p.client, []string{p.stream, p.watermark},
		p.instance, p.cfg.MaxLen, floor, packedFieldNames, fieldSeq+1, pb.finish()).Slice()
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
