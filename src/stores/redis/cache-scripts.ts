// The Lua scripts behind `RedisCache`. Each runs atomically in Redis, which is what makes the
// ticket check race-free across processes: no invalidation can slip between the check and the
// write of `set`. Every version is a number taken from one clock key per prefix.

/**
 * Moves the clock forward and returns the new version (decimal string). The clock never goes
 * back, even if Redis lost it (flush, restart without persistence): it is at least the server
 * time in microseconds, so a version issued after the loss is still above every ticket handed
 * out before it.
 */
const NEXT_VERSION = `
local function next_version(clock_key)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local current = tonumber(redis.call('GET', clock_key) or '0')
  local v = string.format('%.0f', math.max(current + 1, now))
  redis.call('SET', clock_key, v)
  return v
end
`;

/** True when any tag of an entry stamped `stamp` was invalidated after it. */
const STALE = `
local function stale(prefix, tags, stamp)
  if #tags == 0 then return false end
  local keys = {}
  for i, tag in ipairs(tags) do keys[i] = prefix .. tag end
  local versions = redis.call('MGET', unpack(keys))
  for i = 1, #tags do
    local v = versions[i]
    if v and tonumber(v) > stamp then return true end
  end
  return false
end
`;

/** KEYS: entry, floor · ARGV: tag-key prefix → {position, value, tags JSON} or nil. */
export const GET = `${STALE}
local e = redis.call('HMGET', KEYS[1], 's', 't', 'p', 'v')
if not e[1] then return nil end
local stamp = tonumber(e[1])
local floor = tonumber(redis.call('GET', KEYS[2]) or '0')
if stamp < floor or stale(ARGV[1], cjson.decode(e[2]), stamp) then
  redis.call('DEL', KEYS[1])
  return nil
end
return {e[3], e[4], e[2]}
`;

/**
 * KEYS: entry, floor · ARGV: tag-key prefix, ticket, ttl ms (0: none), tags JSON, position, value
 * → 1 stored, 0 refused (the ticket predates a clear or an invalidation of one of the tags).
 */
export const SET = `${STALE}
local ticket = tonumber(ARGV[2])
local floor = tonumber(redis.call('GET', KEYS[2]) or '0')
if ticket < floor or stale(ARGV[1], cjson.decode(ARGV[4]), ticket) then return 0 end
redis.call('HSET', KEYS[1], 's', ARGV[2], 't', ARGV[4], 'p', ARGV[5], 'v', ARGV[6])
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return 1
`;

/**
 * KEYS: clock · ARGV: tag-key prefix, channel, tags… → the new version. Tag keys never expire:
 * were one evicted or expired, the entries it invalidated would be served again. There is one per
 * distinct tag (products and categories), so they stay small; entries carry the TTL. The tags are
 * published on the channel (a JSON array) for the near caches of every process (`NearCache`).
 */
export const INVALIDATE = `${NEXT_VERSION}
local v = next_version(KEYS[1])
local tags = {}
for i = 3, #ARGV do
  redis.call('SET', ARGV[1] .. ARGV[i], v)
  tags[#tags + 1] = ARGV[i]
end
redis.call('PUBLISH', ARGV[2], cjson.encode(tags))
return v
`;

/**
 * KEYS: clock, floor · ARGV: channel → the new floor: every entry and ticket below it is void.
 * Publishes `*` on the channel.
 */
export const CLEAR = `${NEXT_VERSION}
local v = next_version(KEYS[1])
redis.call('SET', KEYS[2], v)
redis.call('PUBLISH', ARGV[1], '*')
return v
`;
