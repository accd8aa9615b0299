-- wrk script for bench/ingest.py: POST pre-signed Klaviyo webhooks.
-- wrk ... -s signed_post.lua URL -- DIR PATH: thread n reads DIR/n.tsv, one request per line
-- (timestamp TAB signature TAB body), and sends each once. If a thread runs out it starts
-- again (duplicates: the receiver's cheaper path) and counts the wrap, which ingest.py reports.
local threads, counter = {}, 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  reqs, n, i, wrapped = {}, 0, 0, 0
  for line in io.lines(args[1] .. "/" .. tid .. ".tsv") do
    local ts, sig, body = line:match("^(%d+)\t(%x+)\t(.*)$")
    n = n + 1
    reqs[n] = wrk.format("POST", args[2], {["Content-Type"] = "application/json",
      ["Klaviyo-Timestamp"] = ts, ["Klaviyo-Signature"] = sig}, body)
  end
end

function request()
  i = i + 1
  if i > n then
    i, wrapped = 1, wrapped + 1
  end
  return reqs[i]
end

function done(summary, latency, requests)
  local wraps = 0
  for _, t in ipairs(threads) do
    wraps = wraps + t:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "wraps": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), wraps))
end
