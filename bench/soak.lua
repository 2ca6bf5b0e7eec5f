-- wrk script of bench/soak.sh: GETs rotating over the paths listed in a
-- file (one a line), each connection from its own offset, so a node serves
-- its own copies (200), redirects for the others (302), and a share of the
-- requests are ranges (206 on a local hit) or conditional (304 on a local
-- hit: the nodes run with `if_modified_since before`). Every status is
-- counted; done() prints them, with wrk's socket errors, as SOAK lines.
--
--   wrk -t1 -c4 -d10s -s bench/soak.lua http://127.0.0.1:PORT -- PATHS SEED [DELAY_MS]

local threads = {}
local nthreads = 0

function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
    table.insert(threads, thread)
end

local paths = {}
local i = 0
local pause = 0
statuses = {}

function init(args)
    local f = assert(io.open(args[1], "r"))
    for line in f:lines() do
        if #line > 0 then paths[#paths + 1] = line end
    end
    f:close()
    assert(#paths > 0, "no paths in " .. args[1])
    -- a different start per node (SEED) and per thread, so the nodes do
    -- not walk the list in step
    i = ((tonumber(args[2]) or 0) * 7919 + (tid or 1) * 104729) % #paths
    pause = tonumber(args[3]) or 0
end

local ims = { ["If-Modified-Since"] = "Fri, 01 Jan 2100 00:00:00 GMT" }
local range = { ["Range"] = "bytes=0-4095" }

function request()
    i = i + 1
    local p = paths[i % #paths + 1]
    if i % 5 == 0 then
        return wrk.format("GET", p, range)
    elseif i % 7 == 0 then
        return wrk.format("GET", p, ims)
    end
    return wrk.format("GET", p)
end

function delay()
    return pause
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local all = {}
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("statuses") or {}) do
            all[k] = (all[k] or 0) + v
        end
    end
    io.write(string.format("SOAK requests %d\n", summary.requests))
    for k, v in pairs(all) do
        io.write(string.format("SOAK status %d %d\n", k, v))
    end
    local e = summary.errors
    io.write(string.format("SOAK socket connect %d read %d write %d timeout %d\n",
                           e.connect, e.read, e.write, e.timeout))
    io.write(string.format("SOAK latency p50 %d p99 %d max %d\n",
                           latency:percentile(50), latency:percentile(99), latency.max))
end
