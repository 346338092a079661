-- One task per request: POST /api/v1/tasks?wait=10s with {"n": N}.
-- N comes from a per-thread counter (thread t of T uses t, t+T, t+2T, ... modulo BENCH_N_RANGE), so requests in
-- flight at once name different computations and none is coalesced with another or answered from a cache.
-- BENCH_N_RANGE=1 makes every request F(0)... use BENCH_N_FIXED to send one n always (the sequential F(1) run).
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
    local n
    if n_fixed then
        n = tonumber(n_fixed)
    else
        n = ((thread_id or 0) + thread_count * counter) % n_range
    end
    counter = counter + 1
    return wrk.format("POST", path, headers, '{"n":' .. n .. '}')
end

function response(status, headers, body)
    if status ~= 200 then
        io.stderr:write("unexpected status " .. status .. ": " .. body:sub(1, 200) .. "\n")
    end
end
