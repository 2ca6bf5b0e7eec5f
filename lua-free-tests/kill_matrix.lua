-- wrk script for lua-free-tests/kill_matrix.t (wrk runs it, not nginx:
-- the product has no Lua). Run with -t1; the one argument after `--` is a
-- file listing the paths to GET, one per line, taken in turn.
--
-- Counts every response by status and keeps, per status, the wall-clock
-- time (unix s, ms resolution) of its first and last occurrence, so the
-- test can check that each error fell inside an allowed window. Prints in
-- done(), one line each, prefixed "km ":
--   km requests N
--   km status CODE COUNT FIRST LAST
--   km errors connect N read N write N status N timeout N
-- Socket errors (connect refused, reset reads, timeouts) are wrk's own
-- counters: they are not responses.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long km_sec; long km_usec; } km_timeval;
int gettimeofday(km_timeval *tv, void *tz);
]]
local tv = ffi.new("km_timeval")

local function now()
    ffi.C.gettimeofday(tv, nil)
    return tonumber(tv.km_sec) + tonumber(tv.km_usec) / 1e6
end

-- per-thread state; read back through thread:get() in done()
paths = {}
turn = 0
counts = {}
first = {}
last = {}

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    local f = assert(io.open(args[1], "r"))
    for line in f:lines() do
        if #line > 0 then
            paths[#paths + 1] = line
        end
    end
    f:close()
    assert(#paths > 0, "no paths in " .. args[1])
end

function request()
    turn = turn % #paths + 1
    return wrk.format("GET", paths[turn])
end

function response(status, headers, body)
    local t = now()
    counts[status] = (counts[status] or 0) + 1
    if not first[status] then
        first[status] = t
    end
    last[status] = t
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("km requests %d\n", summary.requests))
    for _, thread in ipairs(threads) do
        local c, f, l = thread:get("counts"), thread:get("first"), thread:get("last")
        for status, n in pairs(c) do
            io.write(string.format("km status %d %d %.3f %.3f\n",
                                   status, n, f[status], l[status]))
        end
    end
    io.write(string.format("km errors connect %d read %d write %d status %d timeout %d\n",
                           e.connect, e.read, e.write, e.status, e.timeout))
end
