-- The crypto module, as Wippy's: random values, HMAC, AES-GCM and ChaCha20-Poly1305,
-- JWT, PBKDF2 (the handlers: actors/lua/lib/cryptolib.py). Randomness is the OS's in a
-- process and recorded in a workflow; the rest is a pure computation.
local api = ...
local call = api.call

local crypto = {}

-- The seeds' spelling: a count past the limit is a programming error (raised).
function crypto.random_bytes(n)
  if math.type(n) ~= "integer" or n < 0 then
    return nil, api.new_error(errors.INVALID, "crypto.random_bytes: n must be a non-negative integer", false)
  end
  local bytes, err = call("random_bytes", n)
  if bytes == nil then error(err, 2) end
  return bytes
end

crypto.random = {
  bytes = function(length) return call("random", "bytes", length) end,
  string = function(length, charset) return call("random", "string", length, charset) end,
  uuid = function() return call("random", "uuid") end,
}

crypto.hmac = {
  sha256 = function(key, data) return call("hmac", "sha256", key, data) end,
  sha512 = function(key, data) return call("hmac", "sha512", key, data) end,
}

crypto.encrypt = {
  aes = function(data, key, aad) return call("encrypt", "aes", data, key, aad) end,
  chacha20 = function(data, key, aad) return call("encrypt", "chacha20", data, key, aad) end,
}

crypto.decrypt = {
  aes = function(data, key, aad) return call("decrypt", "aes", data, key, aad) end,
  chacha20 = function(data, key, aad) return call("decrypt", "chacha20", data, key, aad) end,
}

crypto.jwt = {
  encode = function(payload, key, alg) return call("jwt_encode", payload, key, alg) end,
  verify = function(token, key, alg, require_exp) return call("jwt_verify", token, key, alg, require_exp) end,
}

function crypto.pbkdf2(password, salt, iterations, key_length, hash)
  return call("pbkdf2", password, salt, iterations, key_length, hash)
end

function crypto.constant_time_compare(a, b)
  local equal = call("constant_time_compare", a, b)
  return equal == true
end

return crypto
