-- wrk script of `gateway bench intake`: each thread posts its own share of pre-signed messages in
-- turn (file <dir>/bodies-<n>.bin, records "<length>\n<bytes>") and counts the answers that are not 200.
-- Arguments (after --): the directory of the shares. Prints one JSON line when done.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("share", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local directory = args[1]
  local records = assert(io.open(directory .. "/bodies-" .. share .. ".bin", "rb"))
  requests = {}
  while true do
    local length = records:read("*l")
    if not length then break end
    local body = records:read(tonumber(length))
    requests[#requests + 1] = wrk.format("POST", "/v1/messages", { ["Content-Type"] = "application/xml" }, body)
  end
  records:close()
  available = #requests
  sent = 0
  others = {}
end

function request()
  sent = sent + 1
  return requests[(sent - 1) % available + 1]
end

function response(status, headers, body)
  if status ~= 200 then others[status] = (others[status] or 0) + 1 end
end

function done(summary, latency, requests_)
  local totals, repeated = {}, 0
  for _, thread in ipairs(threads) do
    local sent_, available_ = thread:get("sent"), thread:get("available")
    if sent_ > available_ then repeated = repeated + (sent_ - available_) end
    for status, count in pairs(thread:get("others")) do totals[status] = (totals[status] or 0) + count end
  end
  local other = {}
  for status, count in pairs(totals) do other[#other + 1] = string.format('"%d": %d', status, count) end
  local errors = summary.errors
  io.write(string.format(
    '{"completed": %d, "duration_us": %d, "other": {%s}, "repeated": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, table.concat(other, ", "), repeated,
    errors.connect, errors.read, errors.write, errors.timeout))
end
