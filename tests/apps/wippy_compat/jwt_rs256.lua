-- RS256 tokens as Wippy code signs and checks them (keys from the test, as PEM text).
local crypto = require("crypto")

local function main(private_pem, public_pem, other_public_pem)
  local token, err = crypto.jwt.encode({sub = "svc", exp = os.time() + 60, _header = {kid = "k1"}},
                                       private_pem, "RS256")
  if err then return nil, err end
  local claims, verify_err = crypto.jwt.verify(token, public_pem, "RS256")
  if verify_err then return nil, verify_err end
  local _, forged = crypto.jwt.verify(token, other_public_pem, "RS256")
  local _, wrong_alg = crypto.jwt.verify(token, public_pem, "HS256")
  local _, unknown = crypto.jwt.encode({sub = "svc"}, "secret", "none")
  return {sub = claims.sub, forged = forged:kind(), wrong_alg = wrong_alg:kind(), unknown = unknown:kind(),
          header = string.sub(token, 1, string.find(token, ".", 1, true) - 1)}
end

return {main = main}
