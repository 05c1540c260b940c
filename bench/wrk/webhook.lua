-- wrk script: POSTs distinct signed 2 KB JSON bodies. The directory named by
-- AWRA_BENCH_HOOK_DIR holds prefix.txt, suffix.txt and signatures.txt (one
-- "<number> sha256=<hex>" line per body), written by bench/cmd/hookbodies.
-- Thread k of T takes the lines k, k+T, k+2T, ... and cycles through them,
-- so after all lines are used, bodies repeat (and are duplicates to a
-- gateway that already delivered them).
local dir = os.getenv("AWRA_BENCH_HOOK_DIR")
if dir == nil or dir == "" then
  error("AWRA_BENCH_HOOK_DIR is not set: set it to the directory bench/cmd/hookbodies wrote")
end

local function slurp(name)
  local f = assert(io.open(dir .. "/" .. name, "r"))
  local s = f:read("*a")
  f:close()
  return s
end

local count = 0
local count_threads = tonumber(os.getenv("AWRA_BENCH_THREADS") or "1")
function setup(thread)
  thread:set("index", count)
  count = count + 1
end

local prefix, suffix
local ids, sigs, n, i = {}, {}, 0, 0

function init(args)
  prefix = slurp("prefix.txt")
  suffix = slurp("suffix.txt")
  local k = index or 0
  local line_no = 0
  for line in io.lines(dir .. "/signatures.txt") do
    if line_no % count_threads == k then
      local id, sig = line:match("^(%d+) (%S+)$")
      n = n + 1
      ids[n] = id
      sigs[n] = sig
    end
    line_no = line_no + 1
  end
  if n == 0 then error("no signatures for thread " .. k) end
end

function request()
  i = i % n + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-Hub-Signature-256"] = sigs[i],
  }, prefix .. ids[i] .. suffix)
end
