-- wrk script for bench/run.sh.
--
-- BENCH_ROTATE unset: every request asks for the URL given on the command line.
-- BENCH_ROTATE=feed: requests rotate over /feed.atom?section=secNNNN&limit=L for 1,000 sections
--   and limits 41..60 (20,000 distinct queries per cycle; the render cache holds ~1,000, so
--   every request renders). Threads interleave so no two threads ask the same query.
-- BENCH_ROTATE=static: requests rotate over /u/0.atom .. /u/999.atom (nginx baseline).
-- BENCH_ROTATE=sections: requests rotate over /feed.atom?section=secNNNN&limit=50 for all 1,000
--   sections (what a crowd of readers subscribed to every section asks; cached between changes).
-- BENCH_ROTATE=ftfeed: requests rotate over BENCH_FEED (default /feed.rss)?section=secNNNN&limit=L
--   for BENCH_SECTIONS sections (default 20) and limits 50..500, with BENCH_EXTRA appended (e.g.
--   "&content=summary"): 9,020 distinct queries per cycle for 20 sections, so every request
--   renders (sections of 50 stories return the same 50 items for every limit).
-- BENCH_GZIP=1: every request sends Accept-Encoding: gzip, as feed readers do.
-- done() prints one parseable line: WRK requests=… rps=… p50_ms=… p99_ms=… …

local mode = os.getenv("BENCH_ROTATE")
local threads = {}
local counter = 0
local step = tonumber(os.getenv("BENCH_THREADS") or "2")

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   counter = tid or 0
end

local ftsections = tonumber(os.getenv("BENCH_SECTIONS") or "20")
local ftfeed = os.getenv("BENCH_FEED") or "/feed.rss"
local ftextra = os.getenv("BENCH_EXTRA") or ""
local headers = {}
if os.getenv("BENCH_GZIP") == "1" then
   headers["Accept-Encoding"] = "gzip"
end

function request()
   if mode == "sections" then
      local i = counter
      counter = counter + step
      return wrk.format("GET", string.format("/feed.atom?section=sec%04d&limit=50", i % 1000), headers)
   elseif mode == "feed" then
      local i = counter
      counter = counter + step
      local section = i % 1000
      local limit = 41 + (math.floor(i / 1000) % 20)
      return wrk.format("GET", string.format("/feed.atom?section=sec%04d&limit=%d", section, limit))
   elseif mode == "ftfeed" then
      local i = counter
      counter = counter + step
      local section = i % ftsections
      local limit = 50 + (math.floor(i / ftsections) % 451)
      return wrk.format("GET", string.format("%s?section=sec%04d&limit=%d%s", ftfeed, section, limit, ftextra), headers)
   elseif mode == "static" then
      local i = counter
      counter = counter + step
      return wrk.format("GET", string.format("/u/%d.atom", i % 1000))
   end
   return wrk.request()
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "WRK requests=%d secs=%.2f rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f bytes=%d errors=%d non2xx=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, summary.bytes,
      e.connect + e.read + e.write + e.timeout, e.status))
end
