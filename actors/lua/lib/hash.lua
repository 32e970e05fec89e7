-- The hash module: MD5, SHA-1/256/512, HMACs, FNV-1 and PBKDF2 (the handlers: actors/lua/lib/hashes.py).
local api = ...

local hash = {}

for _, algorithm in ipairs({"md5", "sha1", "sha256", "sha512"}) do
  hash[algorithm] = function(data, raw)
    if type(data) ~= "string" then
      return nil, api.new_error(errors.INVALID, "hash." .. algorithm .. ": expected a string")
    end
    return api.call("digest", algorithm, data, raw == true)
  end
  hash["hmac_" .. algorithm] = function(data, secret, raw)
    if type(data) ~= "string" or type(secret) ~= "string" then
      return nil, api.new_error(errors.INVALID, "hash.hmac_" .. algorithm .. ": expected the data and the secret as strings")
    end
    return api.call("hmac", algorithm, data, secret, raw == true)
  end
end

function hash.fnv32(data)
  if type(data) ~= "string" then return nil, api.new_error(errors.INVALID, "hash.fnv32: expected a string") end
  return api.call("fnv", 32, data)
end

function hash.fnv64(data)
  if type(data) ~= "string" then return nil, api.new_error(errors.INVALID, "hash.fnv64: expected a string") end
  return api.call("fnv", 64, data)
end

function hash.pbkdf2(password, salt, iterations, key_length, algorithm)
  return api.call("pbkdf2", password, salt, iterations, key_length, algorithm)
end

return hash
