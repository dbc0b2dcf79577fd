/**
 * Takes one token from the request bucket `KEYS[1]` atomically. ARGV: the limit per minute and
 * the caller's clock in ms. The state is a string `tokens:stamp` (GET/SET only: the tenant's
 * ACL user has no hash commands, nor TIME, hence the caller's clock). It expires once the bucket
 * would be full again, so idle tenants leave nothing behind. Mirrors `takeFromBucket`.
 * Returns `{allowed (0|1), retry after ms, whole tokens left}`.
 */
export const TAKE_REQUEST = `
local limit = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local rate = limit / 60000
local tokens, stamp = limit, now
local state = redis.call('GET', KEYS[1])
if state then
  local sep = string.find(state, ':', 1, true)
  if sep then
    tokens = tonumber(string.sub(state, 1, sep - 1)) or limit
    stamp = tonumber(string.sub(state, sep + 1)) or now
  end
end
if now > stamp then
  tokens = tokens + (now - stamp) * rate
  stamp = now
end
if tokens > limit then tokens = limit end
if tokens >= 1 then
  tokens = tokens - 1
  redis.call('SET', KEYS[1], string.format('%.6f:%.0f', tokens, stamp), 'PX', 61000)
  return {1, 0, math.floor(tokens)}
end
return {0, math.ceil((1 - tokens) / rate), 0}
`;

/**
 * Adds ARGV[1] tokens to the day counter `KEYS[1]` and gives it an expiry (ARGV[2] ms) the
 * first time, in one step, so no counter is ever left without one. Returns the new total.
 */
export const CHARGE_TOKENS = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return total
`;
