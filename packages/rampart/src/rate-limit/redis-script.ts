/**
 * The Lua twin of `algorithms.ts`, run by Redis as one script per decision: read the key, decide,
 * write, set the TTL, all inside one atomic script execution (no read-then-write from Node).
 *
 * It mirrors the JavaScript line for line, with the same operations in the same order, so both
 * produce the same numbers (Lua 5.1 numbers are IEEE doubles as in JavaScript, and every value
 * stays a whole number below 2^53). Any change here must be made in `algorithms.ts` too; the
 * "Lua and JavaScript agree" test in `redis-store.test.ts` catches a drift.
 *
 * KEYS[1]: the state key (a hash).
 * ARGV: algorithm, limit, windowMs, buckets-or-burst, cost, now ('' = use Redis TIME), mode
 * ('' = consume, or peek when cost is 0; 'refund' = give back `cost` units, as `refund()` in
 * algorithms.ts).
 * Returns: { allowed 0|1, remaining, resetAt, retryAfterMs, now } as integers (a refund answers
 * { 1, 0, now, 0, now }).
 */
export const RATE_LIMIT_LUA = `
local key = KEYS[1]
local algorithm = ARGV[1]
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local param = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local now = tonumber(ARGV[6])
if now == nil then
  -- One clock for every instance: the Redis server's.
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local need = cost
if need < 1 then need = 1 end
local function int(x) return string.format('%.17g', x) end
local function expire(at)
  local ttl = at - now
  if ttl < 1 then ttl = 1 end
  redis.call('PEXPIRE', key, int(ttl))
end

if ARGV[7] == 'refund' then
  if algorithm == 'fixed-window' then
    local v = redis.call('HMGET', key, 'w', 'c')
    local stored = tonumber(v[1])
    if stored ~= nil and stored >= math.floor(now / window) * window then
      local c = (tonumber(v[2]) or 0) - cost
      if c < 0 then c = 0 end
      redis.call('HSET', key, 'c', int(c))
    end
  elseif algorithm == 'sliding-window' then
    local k = math.floor((now * param) / window)
    local raw = redis.call('HGETALL', key)
    local idx = {}
    local names = {}
    local counts = {}
    for i = 1, #raw, 2 do
      local b = tonumber(raw[i])
      if b ~= nil and b <= k and b >= k - param then
        idx[#idx + 1] = b
        names[b] = raw[i]
        counts[b] = tonumber(raw[i + 1])
      end
    end
    table.sort(idx)
    local left = cost
    for i = #idx, 1, -1 do
      if left <= 0 then break end
      local b = idx[i]
      local take = counts[b]
      if take > left then take = left end
      left = left - take
      if counts[b] - take <= 0 then
        redis.call('HDEL', key, names[b])
      else
        redis.call('HINCRBY', key, names[b], -take)
      end
    end
  elseif algorithm == 'gcra' then
    local v = redis.call('HMGET', key, 't', 'r')
    local tat = tonumber(v[1])
    if tat ~= nil then
      local debt = (tat - now) * limit + (tonumber(v[2]) or 0)
      if debt < 0 then debt = 0 end
      debt = debt - cost * window
      if debt < 0 then debt = 0 end
      local whole = math.floor(debt / limit)
      redis.call('HSET', key, 't', int(now + whole), 'r', int(debt - whole * limit))
    end
  end
  return { 1, 0, now, 0, now }
end

if algorithm == 'fixed-window' then
  local start = math.floor(now / window) * window
  local count = 0
  local v = redis.call('HMGET', key, 'w', 'c')
  local stored = tonumber(v[1])
  if stored ~= nil and stored >= start then
    start = stored
    count = tonumber(v[2]) or 0
  end
  local resetAt = start + window
  local allowed = count + need <= limit
  if allowed and cost > 0 then
    count = count + cost
    redis.call('HSET', key, 'w', int(start), 'c', int(count))
    expire(resetAt)
  end
  local remaining = limit - count
  if remaining < 0 then remaining = 0 end
  local retry = 0
  if not allowed then retry = resetAt - now end
  return { allowed and 1 or 0, remaining, resetAt, retry, now }
end

if algorithm == 'sliding-window' then
  local n = param
  local k = math.floor((now * n) / window)
  local oldest = k - n
  local idx = {}
  local counts = {}
  local stale = {}
  local used = 0
  local raw = redis.call('HGETALL', key)
  for i = 1, #raw, 2 do
    local b = tonumber(raw[i])
    if b ~= nil and b >= oldest then
      local c = tonumber(raw[i + 1])
      idx[#idx + 1] = b
      counts[b] = c
      used = used + c
    else
      stale[#stale + 1] = raw[i]
    end
  end
  local allowed = used + need <= limit
  if allowed and cost > 0 then
    if counts[k] == nil then
      idx[#idx + 1] = k
      counts[k] = 0
    end
    counts[k] = counts[k] + cost
    used = used + cost
    redis.call('HINCRBY', key, int(k), cost)
  end
  -- Dropped whenever a unit was asked for, allowed or not, as the JavaScript drops them: a
  -- clock that later steps back must not find a sub-window alive here and gone there.
  if cost > 0 and #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  table.sort(idx)
  local function leaves(index) return math.ceil(((index + n + 1) * window) / n) end
  if allowed and cost > 0 then expire(leaves(idx[#idx])) end
  local retry = 0
  if not allowed then
    local left = used
    for i = 1, #idx do
      left = left - counts[idx[i]]
      if left + need <= limit then
        retry = leaves(idx[i]) - now
        break
      end
    end
  end
  local resetAt = now
  if #idx > 0 then resetAt = leaves(idx[1]) end
  local remaining = limit - used
  if remaining < 0 then remaining = 0 end
  return { allowed and 1 or 0, remaining, resetAt, retry, now }
end

if algorithm == 'gcra' then
  local burst = param
  local capacity = burst * window
  local debt = 0
  local v = redis.call('HMGET', key, 't', 'r')
  local tat = tonumber(v[1])
  if tat ~= nil then
    debt = (tat - now) * limit + (tonumber(v[2]) or 0)
    if debt < 0 then debt = 0 end
  end
  local allowed = debt + need * window <= capacity
  if allowed and cost > 0 then
    debt = debt + cost * window
    local whole = math.floor(debt / limit)
    redis.call('HSET', key, 't', int(now + whole), 'r', int(debt - whole * limit))
    expire(now + math.ceil(debt / limit))
  end
  local remaining = math.floor((capacity - debt) / window)
  if remaining < 0 then remaining = 0 end
  local resetAt = now
  if remaining < burst then
    resetAt = now + math.ceil((debt - capacity + (remaining + 1) * window) / limit)
  end
  local retry = 0
  if not allowed then retry = math.ceil((debt + need * window - capacity) / limit) end
  return { allowed and 1 or 0, remaining, resetAt, retry, now }
end

return redis.error_reply('rampart rate limit: unknown algorithm ' .. tostring(algorithm))
`;
