-- Two-dimensional vectors with the usual arithmetic.
local math = require("math")

local M = {}
M.__index = M

local EPSILON = 1e-9

--- Makes a vector from its coordinates.
function M.new(x, y)
  return setmetatable({ x = x, y = y }, M)
end

function M:length()
  return math.sqrt(self.x * self.x + self.y * self.y)
end

local function clamp(value, low, high)
  return math.max(low, math.min(high, value))
end

function M.__add(a, b)
  return M.new(a.x + b.x, a.y + b.y)
end

return M
