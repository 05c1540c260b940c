-- wrk script: sends "Authorization: Bearer <token>" on every request. The
-- token is read from the file named by AWRA_BENCH_TOKEN_FILE, so it never
-- appears on a command line or in the process list.
local path = os.getenv("AWRA_BENCH_TOKEN_FILE")
if path == nil or path == "" then
  error("AWRA_BENCH_TOKEN_FILE is not set: set it to the file that holds the token")
end

local file = assert(io.open(path, "r"))
local token = file:read("*l")
file:close()

wrk.headers["Authorization"] = "Bearer " .. token
