-- Batch submit: POST /api/v1/tasks?wait=30s with an array of BENCH_BATCH tasks, answered once all are done.
-- With BENCH_N_FIXED, every task is {"n": BENCH_N_FIXED, "shared": false}: the same trivial task each time, each
-- computed on its own (Dask's pure=False). Otherwise thread t sends n from t*BENCH_BATCH to (t+1)*BENCH_BATCH-1
-- (one connection per thread), so no two batches in flight share a computation. Either way, run the daemon with
-- --cache-size 0 so every task is computed by a worker.
local batch = tonumber(os.getenv("BENCH_BATCH") or "1000")
local n_fixed = os.getenv("BENCH_N_FIXED")
local path = "/api/v1/tasks?wait=30s"
local headers = { ["Content-Type"] = "application/json" }

local next_id = 0
function setup(thread)
    thread:set("thread_id", next_id)
    next_id = next_id + 1
end

local body
function init(args)
    local items = {}
    local base = (thread_id or 0) * batch
    for i = 0, batch - 1 do
        if n_fixed then
            items[#items + 1] = '{"n":' .. n_fixed .. ',"shared":false}'
        else
            items[#items + 1] = '{"n":' .. (base + i) .. '}'
        end
    end
    body = "[" .. table.concat(items, ",") .. "]"
end

function request()
    return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
    if status ~= 200 then
        io.stderr:write("unexpected status " .. status .. ": " .. body:sub(1, 200) .. "\n")
    end
end
