//! The Lua scripts of the shared rate limiter. Each runs atomically on the Redis server and
//! reads the server clock (`TIME`), so every replica sees one queue and one clock.

/// Joins the FIFO queue of a provider or refreshes the caller's place in it, and admits the
/// caller when every limit scope has room and no waiter ahead of it could go instead. A
/// waiter ahead is passed over only while its own model's limits (a scope the caller does
/// not share) block it; waiters of the same model and waiters blocked by the provider's
/// limits are never passed, so nobody starves.
///
/// KEYS: 1 ticket counter, 2 queue (ZSET ticket→ticket), 3 liveness (ZSET ticket→expiry),
/// 4 model scopes of the waiters (HASH ticket→spec), then per scope of the caller: holders
/// (ZSET holder→lease expiry), request buckets (HASH), token buckets (HASH).
/// ARGV: 1 ticket ("0" = draw one), 2 liveness ms, 3 holder lease ms, 4 window ms, 5 bucket
/// ms, 6 estimated tokens, 7 holder name prefix, 8 idle expiry ms, 9 the caller's model scope
/// spec ("" = none; newline-separated holders key, requests key, tokens key, cap, requests,
/// tokens, estimate), then per scope: concurrency cap, requests per window, tokens per window
/// (-1 = unlimited).
/// Returns {admitted 0/1, ticket, bucket or 0, position in the queue}.
pub(crate) const ACQUIRE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ticket = ARGV[1]
local alive_ms = tonumber(ARGV[2])
local lease_ms = tonumber(ARGV[3])
local window_ms = tonumber(ARGV[4])
local bucket_ms = tonumber(ARGV[5])
local est = tonumber(ARGV[6])
local idle_ms = tonumber(ARGV[8])
local my_spec = ARGV[9]
if ticket == '0' then
  ticket = tostring(redis.call('INCR', KEYS[1]))
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, d in ipairs(dead) do
  if d ~= ticket then
    redis.call('ZREM', KEYS[2], d)
    redis.call('ZREM', KEYS[3], d)
    redis.call('HDEL', KEYS[4], d)
  end
end
redis.call('ZADD', KEYS[2], ticket, ticket)
redis.call('ZADD', KEYS[3], now + alive_ms, ticket)
if my_spec ~= '' then redis.call('HSET', KEYS[4], ticket, my_spec) end
for k = 1, 4 do redis.call('PEXPIRE', KEYS[k], idle_ms) end
local position = redis.call('ZRANK', KEYS[2], ticket)
local bucket = math.floor(now / bucket_ms)
local first_dead = bucket - math.floor(window_ms / bucket_ms)
local function used(key)
  local total = 0
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if tonumber(all[i]) <= first_dead then
      redis.call('HDEL', key, all[i])
    else
      total = total + tonumber(all[i + 1])
    end
  end
  return total
end
local function fits(held, req, tok, cap, rpm, tpm, need)
  if cap >= 0 then
    redis.call('ZREMRANGEBYSCORE', held, '-inf', now)
    if redis.call('ZCARD', held) >= cap then return false end
  end
  if rpm >= 0 and used(req) >= rpm then return false end
  if tpm >= 0 then
    local u = used(tok)
    if u > 0 and u + need > tpm then return false end
  end
  return true
end
local wait = {0, tonumber(ticket), 0, position}
if position > 0 then
  local ahead = redis.call('ZRANGE', KEYS[2], 0, position - 1)
  for _, w in ipairs(ahead) do
    local spec = redis.call('HGET', KEYS[4], w)
    if not spec or spec == my_spec then return wait end
    local f = {}
    for part in string.gmatch(spec, '[^\n]+') do f[#f + 1] = part end
    if my_spec ~= '' and f[1] == string.match(my_spec, '[^\n]+') then return wait end
    if fits(f[1], f[2], f[3], tonumber(f[4]), tonumber(f[5]), tonumber(f[6]), tonumber(f[7])) then
      return wait
    end
  end
end
local scopes = (#KEYS - 4) / 3
for i = 1, scopes do
  local k = 4 + 3 * (i - 1)
  local a = 9 + 3 * (i - 1)
  if not fits(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3],
      tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), est) then
    return wait
  end
end
local holder = ARGV[7] .. '#' .. ticket
for i = 1, scopes do
  local k = 4 + 3 * (i - 1)
  local a = 9 + 3 * (i - 1)
  if tonumber(ARGV[a + 1]) >= 0 then
    redis.call('ZADD', KEYS[k + 1], now + lease_ms, holder)
    redis.call('PEXPIRE', KEYS[k + 1], idle_ms)
  end
  if tonumber(ARGV[a + 2]) >= 0 then
    redis.call('HINCRBY', KEYS[k + 2], bucket, 1)
    redis.call('PEXPIRE', KEYS[k + 2], idle_ms)
  end
  if tonumber(ARGV[a + 3]) >= 0 then
    redis.call('HINCRBY', KEYS[k + 3], bucket, est)
    redis.call('PEXPIRE', KEYS[k + 3], idle_ms)
  end
end
redis.call('ZREM', KEYS[2], ticket)
redis.call('ZREM', KEYS[3], ticket)
redis.call('HDEL', KEYS[4], ticket)
return {1, tonumber(ticket), bucket, 0}
"#;

/// Leaves the queue without being admitted (the waiter was cancelled).
/// KEYS: 1 queue, 2 liveness, 3 model scopes. ARGV: 1 ticket.
pub(crate) const LEAVE: &str = r#"
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"#;

/// Extends the lease of a held concurrency slot (only if it still exists).
/// KEYS: holder sets. ARGV: 1 holder, 2 lease ms.
pub(crate) const REFRESH: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + tonumber(ARGV[2]), ARGV[1])
end
return 1
"#;

/// Frees a concurrency slot. KEYS: holder sets. ARGV: 1 holder.
pub(crate) const RELEASE: &str = r#"
for _, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
end
return 1
"#;

/// Corrects the token count charged at admission, if its bucket is still in the window.
/// KEYS: token bucket hashes. ARGV: 1 bucket, 2 delta (actual - estimate).
pub(crate) const SETTLE: &str = r#"
for _, key in ipairs(KEYS) do
  if redis.call('HEXISTS', key, ARGV[1]) == 1 then
    local v = redis.call('HINCRBY', key, ARGV[1], ARGV[2])
    if v < 0 then redis.call('HSET', key, ARGV[1], 0) end
  end
end
return 1
"#;
