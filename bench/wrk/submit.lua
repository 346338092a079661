-- One task per request: POST /api/v1/tasks?wait=10s.
-- With BENCH_N_FIXED, every request is {"n": BENCH_N_FIXED, "shared": false}: the same trivial task each time,
-- each computed on its own (Dask's pure=False), so none is coalesced with another in flight. Otherwise N comes
-- from a per-thread counter (thread t of T uses t, t+T, t+2T, ... modulo BENCH_N_RANGE), so requests in flight at
-- once name different computations. Either way, run the daemon with --cache-size 0 so that none is answered from
-- the cache.
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
local n_range = tonumber(os.getenv("BENCH_N_RANGE") or "4000")
local n_fixed = os.getenv("BENCH_N_FIXED")
local path = "/api/v1/tasks?wait=10s"
local headers = { ["Content-Type"] = "application/json" }

local next_id = 0
function setup(thread)
    thread:set("thread_id", next_id)
    next_id = next_id + 1
end

local counter = 0
function request()
    counter = counter + 1
    if n_fixed then
        return wrk.format("POST", path, headers, '{"n":' .. n_fixed .. ',"shared":false}')
    end
    local n = ((thread_id or 0) + thread_count * (counter - 1)) % n_range
    return wrk.format("POST", path, headers, '{"n":' .. n .. '}')
end

function response(status, headers, body)
    if status ~= 200 then
        io.stderr:write("unexpected status " .. status .. ": " .. body:sub(1, 200) .. "\n")
    end
end
